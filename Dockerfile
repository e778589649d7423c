# Launchkit container image: static binaries on a distroless base.
#   docker build -t launchkit .
#   docker run -p 8000:8000 -e ENV=production ... launchkit            (web)
#   docker run ... launchkit /worker                                   (worker)
#   docker run ... launchkit /manage migrate up                        (deploy step)
# Templates, static files and migrations are embedded: the image holds only the binaries,
# built as make build does (-tags nodev: without the development tools).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -tags nodev -trimpath -ldflags="-s -w" -o /out/web ./cmd/web && \
    CGO_ENABLED=0 go build -tags nodev -trimpath -ldflags="-s -w" -o /out/worker ./cmd/worker && \
    CGO_ENABLED=0 go build -tags nodev -trimpath -ldflags="-s -w" -o /out/manage ./cmd/manage && \
    mkdir -p /data/uploads

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /
# The directory for STORAGE_DIR=/data/uploads, owned by the user the binaries run as: a
# volume mounted there starts as a copy of it, and so is writable (compose.yaml).
COPY --from=build --chown=65532:65532 /data /data
ENV ADDR=:8000
EXPOSE 8000
USER nonroot
ENTRYPOINT []
CMD ["/web"]
