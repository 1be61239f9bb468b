package org.blockferry.api.http;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The names this server answers to in a request's {@code Host} header. A web page that got its
 * name resolved to this machine (DNS rebinding) still sends its own name, and is refused; so is
 * a request without a Host. Names compare without case, brackets, a trailing dot or the port; IP
 * literals compare as addresses ({@code [::1]} is {@code [0:0:0:0:0:0:0:1]}).
 */
final class HostCheck {
    static final List<String> LOOPBACK_NAMES = List.of("localhost", "127.0.0.1", "[::1]");
    private static final String OCTET = "(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])";
    private static final Pattern IPV4 = Pattern.compile(OCTET + "(\\." + OCTET + "){3}");
    /** What {@link InetAddress#getByName} parses as an IPv6 literal without looking a name up. */
    private static final Pattern IPV6 = Pattern.compile("[0-9a-f:][0-9a-f:.]*:[0-9a-f:.]*");

    /** The names as configured or found (shown in errors and the log). */
    private final Set<String> names;
    /** The same, {@link #normalize normalized} (compared). */
    private final Set<String> allowed = new LinkedHashSet<>();
    private final boolean any;

    private HostCheck(Set<String> names, boolean any) {
        this.names = Collections.unmodifiableSet(names);
        names.stream().map(HostCheck::normalize).forEach(allowed::add);
        this.any = any;
    }

    /** The names for {@code settings}: see {@code blockferry.http.allowed-hosts} in reference.conf. */
    static HostCheck of(HttpSettings settings) {
        Set<String> names = new LinkedHashSet<>();
        boolean any = settings.allowedHosts().contains("*");
        settings.allowedHosts().stream().filter(n -> !n.equals("*")).forEach(names::add);
        if (settings.loopback()) {
            names.addAll(LOOPBACK_NAMES);
        } else if (settings.allowedHosts().isEmpty()) {
            names.addAll(machineNames(settings.host()));
        }
        return new HostCheck(names, any);
    }

    /** Whether a request whose Host names {@code host} (port left out) is for this server. */
    boolean allows(String host) {
        return any || host != null && !host.isEmpty() && allowed.contains(normalize(host));
    }

    /** The allowed names, for the log and for error messages. */
    Set<String> names() {
        return names;
    }

    boolean any() {
        return any;
    }

    /** The bind address (every address of the machine for a wildcard) and the machine's names. */
    private static Set<String> machineNames(String bind) {
        Set<String> names = new LinkedHashSet<>();
        try {
            InetAddress address = InetAddress.getByName(bind);
            if (address.isAnyLocalAddress()) {
                for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                    for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                        names.add(normalize(a.getHostAddress()));
                    }
                }
                names.addAll(LOOPBACK_NAMES);
            } else {
                names.add(bind);
                names.add(normalize(address.getHostAddress()));
            }
        } catch (UnknownHostException | SocketException e) {
            names.add(bind);
        }
        try {
            InetAddress local = InetAddress.getLocalHost();
            names.add(local.getHostName());
            names.add(local.getCanonicalHostName());
        } catch (UnknownHostException e) {
            // a machine without a resolvable name: its addresses still work
        }
        return names;
    }

    /** {@code Example.ORG.} as {@code example.org}, {@code [::1]} and {@code ::1} as one address. */
    static String normalize(String host) {
        String h = host.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        int scope = h.indexOf('%');
        if (h.contains(":") && scope >= 0) {
            h = h.substring(0, scope);
        }
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (IPV6.matcher(h).matches() || IPV4.matcher(h).matches()) {
            try {
                InetAddress a = InetAddress.getByName(h); // a literal (the patterns above): no name lookup
                return a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
            } catch (UnknownHostException e) {
                return h; // not an address after all: compared as a name
            }
        }
        return h;
    }
}
