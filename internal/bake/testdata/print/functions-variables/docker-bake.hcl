// Variables typed from the environment, buildx's function library, a user function,
// inherits named by a variable, matrix with several keys, and groups within groups.
variable "DEBUG" { default = false }
variable "JOBS" { default = 2 }
variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64"]
}
variable "BASE" { default = "base" }
variable "TAG" {
  default = "v1.0.0"
  validation {
    condition     = TAG != ""
    error_message = "TAG must not be empty."
  }
}
variable "META" { default = "{\"app\":\"web\",\"langs\":[\"go\",\"go\",\"js\"]}" }

function "tag" {
  params = [name, version]
  result = "registry.example.com/${name}:${regex_replace(version, "^v", "")}"
}

group "default" { targets = ["all"] }
group "all" { targets = ["web", "workers"] }
group "workers" { targets = ["worker"] }

target "base" {
  dockerfile = "Dockerfile"
  args = {
    DEBUG = DEBUG ? "1" : "0"
    JOBS  = JOBS * 2
  }
  labels = { "org.example.langs" = join(",", distinct(jsondecode(META).langs)) }
  ssh    = ["default"]
}

target "web" {
  inherits  = [BASE]
  context   = "web"
  platforms = PLATFORMS
  tags      = [tag(jsondecode(META).app, TAG), "registry.example.com/web:${upper(substr(TAG, 0, 2))}"]
  secret    = ["id=npmrc,src=${homedir()}/.npmrc", "type=env,id=GH_TOKEN"]
  no-cache  = DEBUG
  network   = "none"
  output    = ["type=image"]
  description = "The web front end"
}

target "worker" {
  name     = "worker-${lang}-${mode}"
  inherits = [BASE]
  matrix = {
    lang = ["go", "js"]
    mode = ["debug", "release"]
  }
  context = "worker/${lang}"
  target  = mode
  args    = { LANG = lang }
  tags    = [tag("worker-${lang}", "${TAG}-${mode}")]
  output  = ["type=local,dest=out/${lang}/${mode}"]
}
