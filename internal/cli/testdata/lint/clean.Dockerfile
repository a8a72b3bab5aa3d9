FROM busybox
RUN --mount=type=secret,id=tok,env=TOKEN true
