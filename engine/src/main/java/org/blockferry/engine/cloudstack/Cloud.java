package org.blockferry.engine.cloudstack;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * One CloudStack cloud configured on the node, {@code blockferry.cloudstack.clouds.NAME}: where its
 * API is, the files holding the keys that sign calls to it, where new volumes go, and the node's own
 * instance there (the appliance VM volumes are attached to while BlockFerry writes them). Jobs name
 * it ({@code target.cloud}) and carry none of this. {@link #toString()} shows no secret.
 *
 * @param name             the name jobs use
 * @param url              its API endpoint, {@code https://HOST/client/api} (http only to a loopback host)
 * @param apiKeyFile       the file holding the API key, read when a {@link CloudStackApi} is opened
 * @param secretKeyFile    the file holding the secret key that signs calls, read likewise
 * @param zone             the zone new volumes are created in: a UUID, or a name resolved to exactly one zone
 * @param diskOffering     the default disk offering of new volumes: a UUID, or a name resolved likewise
 * @param applianceVmId    the CloudStack instance id of this node, which volumes are attached to
 * @param deviceDir        where attached volumes appear as links to block devices ({@code /dev/disk/by-id})
 * @param asyncTimeout     how long an async job (create, attach, detach) may stay pending
 * @param deviceTimeout    how long an attached volume may take to appear under {@code deviceDir}
 * @param signatureVersion 3 (calls expire, the default) or 2
 */
public record Cloud(String name, URI url, Path apiKeyFile, Path secretKeyFile, String zone, String diskOffering,
                    String applianceVmId, Path deviceDir, Duration asyncTimeout, Duration deviceTimeout,
                    int signatureVersion) {
    public static final Path DEFAULT_DEVICE_DIR = Path.of("/dev/disk/by-id");
    public static final Duration DEFAULT_ASYNC_TIMEOUT = Duration.ofMinutes(15);
    public static final Duration DEFAULT_DEVICE_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_SIGNATURE_VERSION = 3;

    public Cloud {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(apiKeyFile, "apiKeyFile");
        Objects.requireNonNull(secretKeyFile, "secretKeyFile");
        Objects.requireNonNull(zone, "zone");
        Objects.requireNonNull(diskOffering, "diskOffering");
        Objects.requireNonNull(applianceVmId, "applianceVmId");
        Objects.requireNonNull(deviceDir, "deviceDir");
        Objects.requireNonNull(asyncTimeout, "asyncTimeout");
        Objects.requireNonNull(deviceTimeout, "deviceTimeout");
        if (signatureVersion != 2 && signatureVersion != 3) {
            throw new IllegalArgumentException("signatureVersion must be 2 or 3, not " + signatureVersion);
        }
    }

    /** The configuration key of one of this cloud's settings, for messages. */
    public String key(String setting) {
        return Clouds.KEY + "." + name + "." + setting;
    }

    /** The cloud as messages name it. */
    String describe() {
        return "CloudStack cloud " + name + " (" + url + ")";
    }

    @Override
    public String toString() {
        return "Cloud[" + name + " " + url + " zone=" + zone + " disk-offering=" + diskOffering + " appliance-vm-id="
                + applianceVmId + " device-dir=" + deviceDir + " signature-version=" + signatureVersion + "]";
    }
}
