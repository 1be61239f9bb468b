import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.blockferry.api.node.Node;

/**
 * bench/startup.sh's floors: what a process on blockferry's jar, JVM options and class-data
 * archive costs before it does any work of a command. Not a test, not part of the product.
 *
 * <ul>
 *   <li>{@code jvm}: main returns at once (the JVM and the archive).</li>
 *   <li>{@code pekko}: logging, the configuration, a local actor system as {@code blockferry copy}
 *       builds it (no library extensions) and a one-element stream through its materializer —
 *       the part of a {@code copy} that is the design's (a Pekko Streams pipeline), without a
 *       disk, a libnbd binding or a command line.</li>
 *   <li>{@code node}: a one-shot node as {@code blockferry replicate} starts it (database,
 *       cluster, sharding, read side) until it is up as a member of its cluster — no job, and
 *       no leave: the process kills itself there (SIGKILL, exit status 137; an exit would run the
 *       node's coordinated shutdown, which {@code replicate}'s log times on its own:
 *       {@code member-leaving} to {@code member-removed}).</li>
 * </ul>
 * The other modes exit with {@code System.exit}, as blockferry's main does.
 */
public final class StartupFloor {
    private StartupFloor() {
    }

    public static void main(String[] args) {
        String mode = args.length == 1 ? args[0] : "";
        try {
            switch (mode) {
                case "jvm" -> {
                }
                case "pekko" -> pekko();
                case "node" -> node();
                default -> {
                    System.err.println("usage: StartupFloor jvm|pekko|node");
                    System.exit(2);
                }
            }
        } catch (Exception e) { // a node's threads would keep the JVM alive
            e.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
        System.exit(0);
    }

    private static void pekko() throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Config config = ConfigFactory.load();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "blockferry",
                ConfigFactory.parseString("pekko.library-extensions = []").withFallback(config));
        Source.single(1).map(i -> i + 1).runWith(Sink.ignore(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static void node() throws Exception {
        org.slf4j.LoggerFactory.getILoggerFactory();
        Node node = Node.start(ConfigFactory.load(), Node.Access.OPERATOR);
        Cluster cluster = Cluster.get(node.system());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (cluster.selfMember().status() != MemberStatus.up()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the node did not become a member within 30 s");
            }
            Thread.sleep(1);
        }
        // Killed, not halted: the JVM's exit waits up to 300 ms for threads inside native calls
        // (HotSpot's VM_Exit, e.g. Artery's selector in epoll_wait), which a node that has
        // stopped its actor system no longer has. kill(1) costs a few milliseconds; the caller
        // expects status 137.
        new ProcessBuilder("kill", "-KILL", Long.toString(ProcessHandle.current().pid())).start();
        Thread.sleep(10_000);
        System.err.println("StartupFloor: not killed within 10 s");
        Runtime.getRuntime().halt(1);
    }
}
