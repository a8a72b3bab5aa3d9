// Two targets built at once from busybox, each with its own secret of the same id (a
// file for app, an environment variable for web) and its own output; cmd/hush's
// TestBakeBuildsTargetsConcurrently builds it.
variable "TAG" { default = "dev" }

group "default" { targets = ["app", "web"] }

target "_common" {
  args   = { PAUSE = "2" }
  labels = { "org.example.tag" = TAG }
}

target "app" {
  inherits = ["_common"]
  context  = "app"
  tags     = ["example/app:${TAG}"]
  secret   = ["id=tok,src=app.tok"]
  output   = ["type=local,dest=out/app"]
}

target "web" {
  inherits = ["_common"]
  context  = "web"
  tags     = ["example/web:${TAG}"]
  secret   = ["type=env,id=tok,env=WEB_TOKEN"]
  output   = ["type=local,dest=out/web"]
}
