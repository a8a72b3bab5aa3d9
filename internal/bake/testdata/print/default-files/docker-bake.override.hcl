target "web" {
  secret = ["id=token,env=TOKEN"]
  args   = { FROM_OVERRIDE = "1" }
}
