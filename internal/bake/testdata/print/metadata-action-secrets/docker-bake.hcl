// The shape of repositories that build with docker/metadata-action's bake file: an empty
// "docker-metadata-action" target the action fills in, and a build target inheriting it.
target "docker-metadata-action" {}

target "build" {
  inherits   = ["docker-metadata-action"]
  context    = "./src"
  dockerfile = "./Dockerfile"
  platforms = [
    "linux/amd64",
    "linux/arm64",
  ]
  secret = [
    "type=env,id=GITHUB_TOKEN",
    "id=env.json,src=.env",
  ]
}
