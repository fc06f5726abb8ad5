package org.elasticsearch.node;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.rest.RestChannel;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.transport.netty4.Netty4Plugin;
import org.elasticsearch.xcontent.XContentBuilder;

import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One Elasticsearch node built from the jars on the classpath, for development and tests.
 * In org.elasticsearch.node because NodeConstruction and NodeServiceProvider are package-private.
 * Usage: java -cp CLASSES:LIB/* org.elasticsearch.node.SocpipeDevNode HOME_DIR CONFIG_DIR
 */
public final class SocpipeDevNode extends Node {
    private SocpipeDevNode(Environment env) {
        super(NodeConstruction.prepareConstruction(env, ClasspathPluginsService.emptyLoader(), new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment e, PluginsLoader loader) {
                return new ClasspathPluginsService(e.settings(), e.configDir(), loader, List.of(Netty4Plugin.class, RootPlugin.class));
            }
        }, true));
    }

    /** `GET /` and `HEAD /` live in a module that is not published; clients' info() and ping() need them. */
    public static final class RootPlugin extends Plugin implements ActionPlugin {
        private volatile ClusterService clusterService;

        @Override
        public Collection<?> createComponents(PluginServices services) {
            clusterService = services.clusterService();
            return List.of();
        }

        @Override
        public Collection<RestHandler> getRestHandlers(Settings settings, org.elasticsearch.common.io.stream.NamedWriteableRegistry registry,
            org.elasticsearch.rest.RestController controller, org.elasticsearch.common.settings.ClusterSettings clusterSettings,
            org.elasticsearch.common.settings.IndexScopedSettings indexScopedSettings, org.elasticsearch.common.settings.SettingsFilter filter,
            org.elasticsearch.cluster.metadata.IndexNameExpressionResolver resolver,
            java.util.function.Supplier<org.elasticsearch.cluster.node.DiscoveryNodes> nodes,
            java.util.function.Predicate<org.elasticsearch.features.NodeFeature> features) {
            return List.of(new RestHandler() {
                @Override
                public List<Route> routes() {
                    return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
                }

                @Override
                public void handleRequest(RestRequest request, RestChannel channel, NodeClient client) throws Exception {
                    Build build = Build.current();
                    XContentBuilder body = channel.newBuilder();
                    body.startObject()
                        .field("name", NODE_NAME_SETTING.get(settings))
                        .field("cluster_name", clusterService.getClusterName().value())
                        .field("cluster_uuid", clusterService.state().metadata().clusterUUID())
                        .startObject("version")
                        .field("number", build.qualifiedVersion())
                        .field("build_flavor", build.flavor())
                        .field("build_type", build.type().displayName())
                        .field("build_hash", build.hash())
                        .field("build_date", build.date())
                        .field("build_snapshot", build.isSnapshot())
                        .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                        .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                        .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                        .endObject()
                        .field("tagline", "You Know, for Search")
                        .endObject();
                    channel.sendResponse(new RestResponse(RestStatus.OK, body));
                }
            });
        }
    }

    public static void main(String[] args) throws Exception {
        Settings input = Settings.builder().put("path.home", args[0]).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(input, Map.of(), Path.of(args[1]), () -> "socpipe-dev");
        LogConfigurator.setNodeName(NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env, true);
        SocpipeDevNode node = new SocpipeDevNode(env);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "socpipe-dev-shutdown"));
        node.start();
        closed.await();
    }
}
