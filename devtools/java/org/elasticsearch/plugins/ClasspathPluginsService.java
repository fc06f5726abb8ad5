package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Plugins that are plain classes on the classpath rather than bundles in a plugins folder.
 * Lives in this package because LoadedPlugin and loadPlugin are package-private: the published jars
 * carry no plugin bundles, so the Netty4 transport has to be handed to the node this way.
 */
public final class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(Settings settings, Path configDir, PluginsLoader loader, List<Class<? extends Plugin>> classes) {
        super(settings, configDir, loader);
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> cls : classes) {
            Plugin plugin = loadPlugin(cls, settings, configDir);
            PluginDescriptor descriptor = new PluginDescriptor(
                cls.getName(), "classpath plugin", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), cls.getName(), null, List.of(),
                false, false, false, false
            );
            loaded.add(new LoadedPlugin(descriptor, plugin, cls.getClassLoader()));
        }
        this.classpathPlugins = List.copyOf(loaded);
    }

    /** A loader with no modules and no plugins; the server runs unnamed, so no module exports are wired. */
    public static PluginsLoader emptyLoader() {
        return PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
