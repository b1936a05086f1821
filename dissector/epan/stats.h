/*
 * The "kasa" tap and the stats tree "Kasa/Devices and methods" (tshark -z kasa,tree; in the
 * GUI Statistics > Kasa > Devices and methods). Compiled by ../../build.rs with the shim; bindgen
 * reads this header through ../../wrapper.h. C because the stats tree's callback and flag types
 * are glib's in 4.0 and C's from 4.4: here they come from the installed headers.
 *
 * The tap's data is the decoder's `stats::Sample` in packet memory (pinfo->pool), queued once
 * per shown message; the tree's packet callback hands each to Rust, which counts it in the
 * decoder's accumulator and copies the changed counts into the tree's nodes with the helpers
 * below. Nothing here throws.
 */
#ifndef KASA_STATS_H
#define KASA_STATS_H

#include <epan/packet_info.h>
#include <epan/stats_tree.h>

/* The Rust entry points: a tapped record for a tree, and a tree's end (its cleanup). Both
 * never unwind (catch_unwind) and call epan only through the helpers below. */
typedef void (*kasa_rust_stats_packet)(stats_tree *st, const void *record);
typedef void (*kasa_rust_stats_cleanup)(stats_tree *st);
void kasa_stats_set_entries(kasa_rust_stats_packet packet, kasa_rust_stats_cleanup cleanup);

/* From plugin_register: registers the tap plugin whose listener registration adds the stats
 * tree (it must exist before tshark reads its -z options). */
void kasa_stats_register_plugin(void);
/* From register_protoinfo: registers the "kasa" tap. */
void kasa_stats_register_tap(void);
/* Whether anyone listens to the tap now (otherwise no record is made). */
int kasa_stats_tapping(void);
/* Queues a record (packet memory) for this frame's listeners. */
void kasa_stats_queue(packet_info *pinfo, const void *record);

/* Sets the count of the node `name` under `parent` (created when missing, as a node that can
 * have children), returns its id. The root is 0. */
int kasa_stats_set_node(stats_tree *st, const char *name, int parent, int value);
/* The same for a node without children. */
void kasa_stats_set_leaf(stats_tree *st, const char *name, int parent, int value);
/* Adds a value to the averaging node `name` under `parent` (one more count). */
void kasa_stats_add_value(stats_tree *st, const char *name, int parent, float value);
/* Renames the node `from` under `parent` (a device whose identity became known). */
void kasa_stats_rename(stats_tree *st, int parent, const char *from, const char *to);

#endif
