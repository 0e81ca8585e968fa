/* test-common.h - helpers shared by the unit tests: where the example files are
 */
#pragma once

#include <glib.h>
#include <string.h>

static inline int nc_test_cmp_paths(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The source tree's root: $NETCARRY_SOURCE_ROOT (set by meson test), else the
 * one this binary was configured from. */
static inline const char *nc_test_source_root(void)
{
    const char *root = g_getenv("NETCARRY_SOURCE_ROOT");

    return root && *root ? root : NC_TEST_SOURCE_ROOT;
}

/**
 * nc_test_list_examples() - the files in xml/examples, sorted
 * @invalid: TRUE for the `*-invalid.*` files, FALSE for the others
 *
 * Return: (transfer full): absolute paths
 */
static inline GPtrArray *nc_test_list_examples(gboolean invalid)
{
    g_autofree char *dir_path = g_build_filename(nc_test_source_root(), "xml", "examples", NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(name, ".xml"))
            continue;
        if ((strstr(name, "-invalid.") != NULL) == invalid)
            g_ptr_array_add(out, g_build_filename(dir_path, name, NULL));
    }
    g_ptr_array_sort(out, nc_test_cmp_paths);
    return out;
}

/* A directory private to the running test case (G_TEST_OPTION_ISOLATE_DIRS
 * points the XDG cache dir into the test's own temporary tree; TMPDIR is shared). */
static inline const char *nc_test_scratch_dir(void)
{
    const char *dir = g_get_user_cache_dir();

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    return dir;
}
