/* See tls.h. */
#define GLIB_VERSION_MIN_REQUIRED GLIB_VERSION_2_56
#define GLIB_VERSION_MAX_ALLOWED GLIB_VERSION_2_74

#include "tls.h"

#include <glib.h>
#include <epan/dissectors/packet-tls.h>

/* KASA_TLSINFO comes from build.rs: 1 when the installed packet-tls.h declares struct tlsinfo. */
#ifndef KASA_TLSINFO
#error "build.rs defines KASA_TLSINFO"
#endif

void kasa_tls_set_app_handle(void *data, dissector_handle_t handle)
{
    if (data == NULL || handle == NULL) {
        return;
    }
#if KASA_TLSINFO
    struct tlsinfo *info = data;
    if (info->app_handle != NULL) {
        *info->app_handle = handle;
    }
#else
    *(dissector_handle_t *)data = handle;
#endif
}

void kasa_tls_port_add(unsigned port, dissector_handle_t handle)
{
    ssl_dissector_add(port, handle);
}

void kasa_tls_port_delete(unsigned port, dissector_handle_t handle)
{
    ssl_dissector_delete(port, handle);
}

int kasa_field_id(const char *filter_name)
{
    int id = proto_registrar_get_id_byname(filter_name);
    if (id < 0) {
        id = proto_get_id_by_filter_name(filter_name);
    }
    return id;
}

void kasa_set_postdissector_wanted(dissector_handle_t handle, const int *ids, unsigned count)
{
    if (count == 0) {
        /* No array at all: an empty one may still count as wanting fields. */
        set_postdissector_wanted_hfids(handle, NULL);
        return;
    }
    GArray *wanted = g_array_sized_new(FALSE, FALSE, (guint)sizeof(int), count);
    for (unsigned i = 0; i < count; i++) {
        if (ids[i] > 0) {
            g_array_append_val(wanted, ids[i]);
        }
    }
    set_postdissector_wanted_hfids(handle, wanted);
}

unsigned kasa_field_spans(proto_tree *tree, int hf, struct kasa_field_span *out, unsigned max)
{
    if (tree == NULL || hf <= 0) {
        return 0;
    }
    GPtrArray *items = proto_get_finfo_ptr_array(tree, hf);
    if (items == NULL) {
        return 0;
    }
    unsigned n = 0;
    for (guint i = 0; i < items->len && n < max; i++) {
        field_info *fi = g_ptr_array_index(items, i);
        if (fi == NULL || fi->ds_tvb == NULL || fi->start < 0 || fi->length < 0) {
            continue;
        }
        out[n].tvb = fi->ds_tvb;
        out[n].start = fi->start;
        out[n].length = fi->length;
        n++;
    }
    return n;
}
