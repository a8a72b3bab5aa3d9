target "_common" {
  args   = { BUILDKIT_CONTEXT_KEEP_GIT_DIR = "1" }
  secret = ["id=npmrc,src=.npmrc"]
  output = ["type=image,push=false"]
}

target "app" {
  inherits = ["_common"]
  tags     = ["example/app:dev"]
  secret   = ["id=token,env=APP_TOKEN"]
}

target "cli" {
  inherits = ["_common"]
  context  = "cli"
  tags     = ["example/cli:dev"]
  output   = ["type=registry"]
}

group "default" { targets = ["app", "cli"] }
