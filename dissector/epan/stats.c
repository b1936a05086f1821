/*
 * The tap and the stats tree: see stats.h.
 */
#define GLIB_VERSION_MIN_REQUIRED GLIB_VERSION_2_56
#define GLIB_VERSION_MAX_ALLOWED GLIB_VERSION_2_74

#include "stats.h"

#include <glib.h>
#include <epan/tap.h>
#include <epan/stats_tree.h>
#if __has_include(<epan/stats_tree_priv.h>)
#include <epan/stats_tree_priv.h>
#define KASA_HAVE_ST_PRIV 1
#endif

static int tap_id = -1;
static kasa_rust_stats_packet rust_packet;
static kasa_rust_stats_cleanup rust_cleanup;

void kasa_stats_set_entries(kasa_rust_stats_packet packet, kasa_rust_stats_cleanup cleanup)
{
    rust_packet = packet;
    rust_cleanup = cleanup;
}

/* The packet callback's flags argument: tap_flags_t in every supported version. */
static tap_packet_status stats_packet(stats_tree *st, packet_info *pinfo, epan_dissect_t *edt,
                                      const void *record, tap_flags_t flags)
{
    (void)pinfo;
    (void)edt;
    (void)flags;
    if (record && rust_packet)
        rust_packet(st, record);
    return TAP_PACKET_REDRAW;
}

static void stats_init(stats_tree *st)
{
    (void)st;
}

static void stats_cleanup(stats_tree *st)
{
    if (rust_cleanup)
        rust_cleanup(st);
}

static void register_listener(void)
{
    stats_tree_register_plugin("kasa", "kasa", "Kasa/Devices and methods", 0, stats_packet,
                               stats_init, stats_cleanup);
}

static const tap_plugin kasa_tap_plugin = {register_listener};

void kasa_stats_register_plugin(void)
{
    tap_register_plugin(&kasa_tap_plugin);
}

void kasa_stats_register_tap(void)
{
    tap_id = register_tap("kasa");
}

int kasa_stats_tapping(void)
{
    return tap_id >= 0 && have_tap_listener(tap_id);
}

void kasa_stats_queue(packet_info *pinfo, const void *record)
{
    if (tap_id >= 0)
        tap_queue_packet(tap_id, pinfo, record);
}

int kasa_stats_set_node(stats_tree *st, const char *name, int parent, int value)
{
    return stats_tree_manip_node_int(MN_SET, st, name, parent, 1, value);
}

void kasa_stats_set_leaf(stats_tree *st, const char *name, int parent, int value)
{
    stats_tree_manip_node_int(MN_SET, st, name, parent, 0, value);
}

void kasa_stats_add_value(stats_tree *st, const char *name, int parent, float value)
{
    stats_tree_manip_node_float(MN_AVERAGE, st, name, parent, 0, value);
}

void kasa_stats_rename(stats_tree *st, int parent, const char *from, const char *to)
{
#ifdef KASA_HAVE_ST_PRIV
    /* The node is found as stats_tree_manip_node_* finds it: in its parent's table of children
     * when the parent has one, else in the tree's table of names; a node that can have
     * children is also in the tree's table. Both tables are keyed by the node's own name. */
    stat_node *p, *node;
    GHashTable *table;
    gboolean in_names;
    char *old;
    if (parent < 0 || (unsigned)parent >= st->parents->len || !from || !to)
        return;
    p = (stat_node *)g_ptr_array_index(st->parents, parent);
    table = p->hash ? p->hash : st->names;
    node = (stat_node *)g_hash_table_lookup(table, from);
    if (!node || g_hash_table_lookup(table, to))
        return;
    g_hash_table_remove(table, from);
    in_names = table != st->names && g_hash_table_lookup(st->names, from) == node;
    if (in_names)
        g_hash_table_remove(st->names, from);
    old = node->name;
    node->name = g_strdup(to);
    g_hash_table_insert(table, node->name, node);
    if (in_names)
        g_hash_table_insert(st->names, node->name, node);
    g_free(old);
#else
    (void)st;
    (void)parent;
    (void)from;
    (void)to;
#endif
}
