# check=error=true
FROM busybox
ARG GITHUB_TOKEN
