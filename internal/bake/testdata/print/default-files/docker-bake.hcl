target "web" {
  tags = ["example/web:bake"]
  args = { FROM_HCL = "1" }
}
target "extra" { dockerfile = "Dockerfile.extra" }
group "default" { targets = ["web", "extra"] }
