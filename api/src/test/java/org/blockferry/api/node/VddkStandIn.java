package org.blockferry.api.node;

import java.nio.file.Files;
import java.nio.file.Path;
import org.blockferry.engine.source.vmware.testing.Vcsim;

/**
 * A stand-in for nbdkit-vddk-plugin (VMware's VDDK is proprietary and cannot run here): a
 * script for nbdkit's {@code sh} plugin, configured as {@code blockferry.vmware.vddk.plugin}. It
 * takes the vddk plugin's parameters, checks them as VDDK needs them (a private password file
 * holding the password, an existing libdir), records each to {@code params}, and serves
 * {@code file=} as of {@code snapshot=}: the content our simulator froze when it took that
 * snapshot ({@code ds/NAME.vmdk@SNAPSHOT}, see engine/src/test/vcsim/delta.go), where
 * {@code NAME} is the base disk of the file ({@code [LocalDS_0] VM/disk1-000001.vmdk} is a delta
 * of {@code disk1.vmdk}). Without frozen content for that snapshot it fails, as VDDK does for a
 * snapshot that does not exist. While the file {@code ds/slow} exists every read first waits a
 * second (a slow datastore, so that a test can act while a sync reads).
 */
final class VddkStandIn {
    private VddkStandIn() {
    }

    static Path write(Path dir, Path params, Path ds) throws Exception {
        String script = """
                #!/bin/sh
                # Stand-in for nbdkit-vddk-plugin in BlockFerry's tests (VDDK cannot run here).
                params='@PARAMS@'
                image() {
                  f=$(cat "$tmpdir/file"); f="${f#"[LocalDS_0] @VM@/"}"
                  base=$(printf %s "$f" | sed 's/-[0-9][0-9][0-9][0-9][0-9][0-9]\\.vmdk$/.vmdk/')
                  echo "@DS@/$base@$(cat "$tmpdir/snapshot")"
                }
                case "$1" in
                  config)
                    echo "$2=$3" >> "$params"
                    case "$2" in
                      password)
                        env > "$params.env"
                        f="${3#+}"
                        [ "$f" != "$3" ] || { echo "EINVAL password must be +FILE" >&2; exit 1; }
                        [ "$(stat -c %a "$f")" = 600 ] || { echo "EINVAL the password file is not private" >&2; exit 1; }
                        [ "$(cat "$f")" = '@PASSWORD@' ] || { echo "EPERM wrong password in $f" >&2; exit 1; }
                        ;;
                      libdir) [ -d "$3" ] || { echo "EINVAL libdir $3 is not a directory" >&2; exit 1; } ;;
                      file) printf %s "$3" > "$tmpdir/file" ;;
                      snapshot) printf %s "$3" > "$tmpdir/snapshot" ;;
                    esac ;;
                  config_complete)
                    [ -s "$tmpdir/file" ] || { echo "EINVAL file= is required" >&2; exit 1; }
                    [ -s "$tmpdir/snapshot" ] || { echo "EINVAL snapshot= is required" >&2; exit 1; }
                    [ -f "$(image)" ] || { echo "ENOENT no content of $(cat "$tmpdir/file") as of that snapshot" >&2; exit 1; } ;;
                  open) echo vddk ;;
                  get_size) stat -L -c %s "$(image)" ;;
                  pread)
                    [ ! -e '@DS@/slow' ] || sleep 1
                    dd if="$(image)" iflag=skip_bytes,count_bytes skip="$4" count="$3" bs=1M status=none ;;
                  *) exit 2 ;;
                esac
                """.replace("@PARAMS@", params.toString()).replace("@DS@", ds.toString())
                .replace("@VM@", Vcsim.VM).replace("@PASSWORD@", VmwareSyncJobTest.PASSWORD);
        Path file = dir.resolve("vddk-standin");
        Files.writeString(file, script);
        file.toFile().setExecutable(true);
        return file;
    }
}
