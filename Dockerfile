# Build a small image holding only the static nimara binary, run as a non-root user.
#   docker build -t nimara .
#   docker run --rm -e REDIS_URL=redis://redis:6379 -e DATABASE_URL=postgres://... nimara worker
# NOTE: no image has been built from this file yet, because the development machines have no
# Docker engine; the same static `go build` command was run outside Docker.
FROM golang:1.26-bookworm AS build
WORKDIR /src

COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/nimara ./cmd/nimara

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nimara /usr/local/bin/nimara
USER nonroot:nonroot
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/nimara"]
CMD ["worker"]
