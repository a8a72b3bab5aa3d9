target "base" {
  dockerfile = "base.Dockerfile"
  secret     = ["id=pip,src=pip.conf"]
}
target "app" {
  contexts = {
    base  = "target:base"
    src   = "./src"
    alpine = "docker-image://alpine:3.20"
  }
  tags = ["example/app"]
}
