/*
 * TLS and the postdissector's field reads (WIRESHARK.md section 13), in C because the structs
 * differ per version: the TLS heuristic's `data` is the session's app-handle slot
 * (dissector_handle_t *) in 4.0 and a struct tlsinfo * from 4.4; field_info is read here, by the
 * compiler that has the version's own header. Nothing here throws.
 */
#ifndef KASA_TLS_H
#define KASA_TLS_H

#include <stdint.h>
#include <epan/packet.h>
#include <epan/proto.h>

/* A TLS heuristic matched: later records of the session go straight to `handle`. */
void kasa_tls_set_app_handle(void *data, dissector_handle_t handle);

/* tls.port (and tcp.port -> TLS) for one port; ssl_dissector_add/delete keep their names in
 * 4.0 to 4.6. */
void kasa_tls_port_add(unsigned port, dissector_handle_t handle);
void kasa_tls_port_delete(unsigned port, dissector_handle_t handle);

/* A registered field's or protocol's id by its filter name (-1 when unknown). */
int kasa_field_id(const char *filter_name);

/* set_postdissector_wanted_hfids with a GArray made here (epan frees it); ids <= 0 are left
 * out; no ids: NULL (nothing wanted). */
void kasa_set_postdissector_wanted(dissector_handle_t handle, const int *ids, unsigned count);

/* Where the items of field `hf` in this frame's tree are: up to `max` of them, in tree order;
 * returns how many. The tvb is the item's data source (a reassembled one included). */
struct kasa_field_span {
    tvbuff_t *tvb;
    int start;
    int length;
};
unsigned kasa_field_spans(proto_tree *tree, int hf, struct kasa_field_span *out, unsigned max);

#endif
