variable "REGISTRY" { default = "" }
variable "VERSION" { default = "latest" }
variable "GCP" { default = false }
variable "HOME" { default = "/root" }

group "default" {
  targets = ["app", "app-httpd"]
}

target "app" {
  name = "app-${tgt}"
  matrix = {
    tgt = ["app", "scheduler", "events"]
  }
  context    = "./"
  target     = tgt
  dockerfile = "docker/Dockerfile"
  platforms  = ["linux/amd64"]
  tags = notequal("", REGISTRY) ? formatlist(
    GCP ? "${REGISTRY}/${tgt}:%s" : "${REGISTRY}:${tgt}-%s",
    compact(["latest", VERSION])
  ) : []
  secret = [
    "type=file,id=composer_auth,src=${HOME}/.composer/auth.json"
  ]
}

target "app-httpd" {
  context    = "./"
  dockerfile = "docker/httpd/Dockerfile"
  platforms  = ["linux/amd64"]
  tags       = notequal("", REGISTRY) ? formatlist("${REGISTRY}:app-httpd-%s", compact(["latest", VERSION])) : []
}
