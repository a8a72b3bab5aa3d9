FROM busybox
ARG NPM_TOK
RUN true
COPY . /app
