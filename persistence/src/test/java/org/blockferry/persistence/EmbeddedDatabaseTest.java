package org.blockferry.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The embedded H2 database is the node's own: a random password, owner-only files, loopback only. */
class EmbeddedDatabaseTest {

    private static Path scratch(String name) throws IOException {
        Path dir = Path.of("target", "tests", name + "-" + System.nanoTime()).toAbsolutePath();
        Files.createDirectories(dir.getParent());
        return dir; // not created: the database creates it
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void aNewDatabaseHasARandomPasswordAndOwnerOnlyFiles() throws Exception {
        Path dir = scratch("h2-new");
        PersistenceSettings settings = PersistenceSettings.h2(dir.resolve("blockferry"), 2);
        Path password = PersistenceSettings.h2Password(dir.resolve("blockferry"));
        assertEquals("rw-------", mode(password));
        assertEquals("rwx------", mode(dir), "the directory made for it");
        assertTrue(settings.password().length() >= 40, "32 random bytes");
        assertFalse(settings.toString().contains(settings.password()), settings.toString());
        try (Database db = Database.open(settings)) {
            db.applySchema();
            for (Path f : List.of(dir.resolve("blockferry.mv.db"), password)) {
                assertEquals("rw-------", mode(f), f.toString());
            }
            SQLException refused = assertThrows(SQLException.class,
                    () -> DriverManager.getConnection(settings.url(), "sa", "").close());
            assertEquals(28000, refused.getErrorCode(), "no empty password: " + refused.getMessage());
        }
        assertEquals(settings.password(), PersistenceSettings.h2(dir.resolve("blockferry"), 2).password(),
                "the same password at the next start");
    }

    @Test
    void aDatabaseMadeWithoutAPasswordGetsOneAtTheNextStart() throws Exception {
        Path dir = scratch("h2-old");
        Files.createDirectories(dir);
        String url = "jdbc:h2:file:" + dir.resolve("blockferry") + ";AUTO_SERVER=TRUE";
        PersistenceSettings.h2Password(dir); // as in every process: our settings load before H2 does
        try (Connection c = DriverManager.getConnection(url, "sa", ""); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE kept (x INT)"); // what version 0.1 left
        }
        PersistenceSettings settings = PersistenceSettings.h2(dir.resolve("blockferry"), 2);
        try (Database db = Database.open(settings);
             Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("SELECT COUNT(*) FROM kept");
        }
        assertThrows(SQLException.class, () -> DriverManager.getConnection(url, "sa", "").close());
        DriverManager.getConnection(url, "sa", settings.password()).close();
    }

    @Test
    void theAutoServerListensOnTheLoopbackInterfaceOnly() throws Exception {
        Path dir = scratch("h2-bind");
        PersistenceSettings settings = PersistenceSettings.h2(dir.resolve("blockferry"), 2);
        try (Database db = Database.open(settings); Connection c = db.dataSource().getConnection()) {
            Properties lock = new Properties();
            try (var in = Files.newInputStream(dir.resolve("blockferry.lock.db"))) {
                lock.load(in);
            }
            String server = lock.getProperty("server");
            assertTrue(server != null && server.contains(":"), "the auto-server's address: " + lock);
            int port = Integer.parseInt(server.substring(server.lastIndexOf(':') + 1));
            List<String> listening = listeningAddresses(port);
            assertEquals(List.of("127.0.0.1"), listening, "listeners on port " + port);
            assertEquals("rw-------", mode(dir.resolve("blockferry.lock.db")), "its key is the owner's only");
        }
    }

    /**
     * The local addresses of the TCP sockets in LISTEN state on {@code port} (from /proc/net/tcp
     * and tcp6; an IPv4-mapped IPv6 address is shown as the IPv4 address it maps).
     */
    private static List<String> listeningAddresses(int port) throws IOException {
        List<String> out = new java.util.ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 4 || !f[3].equals("0A")) {
                    continue; // not LISTEN
                }
                String[] local = f[1].split(":");
                if (Integer.parseInt(local[1], 16) != port) {
                    continue;
                }
                String a = local[0];
                boolean mapped = a.length() == 32 && a.startsWith("0000000000000000FFFF0000");
                out.add(a.length() == 8 ? ipv4(a) : mapped ? ipv4(a.substring(24)) : "ipv6:" + a);
            }
        }
        return out;
    }

    private static String ipv4(String hex) {
        long v = Long.parseLong(hex, 16);
        return (v & 0xff) + "." + (v >> 8 & 0xff) + "." + (v >> 16 & 0xff) + "." + (v >> 24 & 0xff);
    }
}
