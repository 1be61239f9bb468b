# BlockFerry node image: `docker compose up` runs three of them with PostgreSQL (docker-compose.yml, docs/cluster.md).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN mvn -B -q -ntp -DskipTests package

FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless nbdkit libnbd0 \
        qemu-utils curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/api/target/blockferry.jar /opt/blockferry/blockferry.jar
# A user of its own, never root: block devices attached to the appliance belong to group disk.
RUN useradd --system --uid 10001 --home-dir /var/lib/blockferry --groups disk blockferry \
    && install -d -m 0700 -o blockferry -g blockferry /var/lib/blockferry /var/lib/blockferry/disks
ENV BLOCKFERRY_DATA_DIR=/var/lib/blockferry
VOLUME /var/lib/blockferry
USER blockferry
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=2g", "-jar", "/opt/blockferry/blockferry.jar"]
CMD ["serve", "--bind", "0.0.0.0", "--port", "8080"]
