/*
 * The C shell between epan and the Rust plugin (compiled by ../../build.rs with the cc crate;
 * bindgen reads this header through ../../wrapper.h, so the Rust declarations cannot drift).
 *
 * The rule: every epan call that can THROW (a longjmp) goes through a kasa_shim_* wrapper that
 * runs it inside TRY/CATCH_ALL/ENDTRY, and every function epan calls into the plugin during
 * dissection is a kasa_tramp_* trampoline here. So no Rust frame ever lies between a THROW
 * and its CATCH:
 *
 *   epan -> kasa_tramp_X -> Rust (never unwinds: catch_unwind) -> kasa_shim_Y -> TRY { epan }
 *
 * A wrapper that catches records the exception in the pending slot and returns KASA_THROWN;
 * while one is pending every wrapper returns KASA_THROWN without calling epan. Rust stops and
 * returns; the trampoline then clears the slot and rethrows the exception with THROW_MESSAGE,
 * from C, so epan sees exactly the throw it would have seen from a C dissector (a bounds error
 * is still "Malformed Packet", tcp_dissect_pdus still goes on with the next PDU).
 *
 * Only the headers' own types are used, so the same source builds against 4.0 (gboolean,
 * guint32 booleans) and 4.4/4.6 (bool, uint64_t).
 */
#ifndef KASA_SHIM_H
#define KASA_SHIM_H

#include <epan/packet.h>
#include <epan/proto.h>
#include <epan/expert.h>
#include <epan/dissectors/packet-tcp.h>

/* Status of every kasa_shim_* wrapper. */
#define KASA_OK 0
/* epan threw (the exception is now pending), or one was already pending and epan was not
 * called. The caller must stop and return to its trampoline. */
#define KASA_THROWN 1

/* What a heuristic returns (gboolean up to 4.2, bool from 4.4), taken from the header's own
 * heur_dissector_t. The call inside __typeof__ is never evaluated. */
typedef __typeof__(((heur_dissector_t)0)(NULL, NULL, NULL, NULL)) kasa_heur_ret;

/*
 * The Rust entry points the trampolines call. Each is an extern "C" Rust function that never
 * unwinds (its body runs under catch_unwind) and never throws (it calls epan only through the
 * wrappers below). Registered once with kasa_shim_set_entries before anything is registered
 * with epan. Heuristics return 0 or 1.
 */
typedef int (*kasa_rust_dissector)(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                   void *data);
typedef unsigned (*kasa_rust_pdu_len)(packet_info *pinfo, tvbuff_t *tvb, int offset, void *data);

struct kasa_rust_entries {
    kasa_rust_dissector tcp_port;
    kasa_rust_dissector tcp_conv;
    kasa_rust_dissector udp_port;
    kasa_rust_dissector udp_conv;
    kasa_rust_dissector heur_tcp;
    kasa_rust_dissector heur_udp;
    kasa_rust_pdu_len pdu_len;
    kasa_rust_dissector pdu;
    /* HTTP bodies: the media_type handles (one per media type taken over), the hook that runs
     * under the kasa protocol, and the heuristic on the "http" list. */
    kasa_rust_dissector http_media_json;
    kasa_rust_dissector http_media_octet;
    kasa_rust_dissector http_media_form;
    kasa_rust_dissector http_media_text_html;
    kasa_rust_dissector http_media_text_plain;
    kasa_rust_dissector http_body;
    kasa_rust_dissector heur_http;
    kasa_rust_dissector post;
    /* Decrypted TLS application data (the cloud link): the handle on tls.port and the
     * heuristic on the "tls" list (see tls.h). */
    kasa_rust_dissector tls;
    kasa_rust_dissector heur_tls;
};

/* Copies the table (called from plugin_register). */
void kasa_shim_set_entries(const struct kasa_rust_entries *entries);

/* The trampolines epan is given (register_dissector, heur_dissector_add); the tcp_dissect_pdus
 * callbacks stay inside shim.c. */
int kasa_tramp_tcp_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_tcp_conv(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_udp_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_udp_conv(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
kasa_heur_ret kasa_tramp_heur_tcp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
kasa_heur_ret kasa_tramp_heur_udp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_http_media_json(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_http_media_octet(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_http_media_form(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_http_media_text_html(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                    void *data);
int kasa_tramp_http_media_text_plain(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                     void *data);
int kasa_tramp_http_body(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
kasa_heur_ret kasa_tramp_heur_http(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
int kasa_tramp_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);
kasa_heur_ret kasa_tramp_heur_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data);

/* Whether an exception is pending (for tests and assertions; the wrappers check it anyway). */
int kasa_shim_pending(void);

/* The wrappers. Results come back through `out` (untouched unless KASA_OK). */
int kasa_shim_tree_add_item(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, unsigned encoding);
int kasa_shim_tree_add_string(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb,
                              int start, int length, const char *value);
int kasa_shim_tree_add_uint(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, uint32_t value);
int kasa_shim_tree_add_int(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                           int length, int32_t value);
int kasa_shim_tree_add_boolean(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb,
                               int start, int length, int value);
int kasa_shim_tree_add_time(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, const nstime_t *value);
int kasa_shim_item_add_subtree(proto_tree **out, proto_item *item, int ett);
int kasa_shim_item_append_text(proto_item *item, const char *text);
int kasa_shim_item_set_text(proto_item *item, const char *text);
/* proto_item_set_generated is static inline in proto.h: this is its one symbol. Never throws. */
void kasa_shim_item_set_generated(proto_item *item);
/* PINFO_FD_VISITED: the frame_data bit-field, read by the C compiler that laid it out. */
int kasa_shim_visited(const packet_info *pinfo);
int kasa_shim_expert_add_info(packet_info *pinfo, proto_item *item, expert_field *ei,
                              const char *text);
/* proto_field_is_referenced as 0 or 1 (it returns gboolean up to 4.2, bool from 4.4 on). */
int kasa_field_referenced(proto_tree *tree, int id);
/* What call_dissector does for the json dissector before it runs, for the plugin's own json.*
 * items (dissector/json.rs): the protocol joins pinfo->layers (frame.protocols), and its root
 * item over the first `length` bytes, with ": <media type>" when a string table chose the
 * caller (pinfo->match_string), as the JSON dissector shows it. */
int kasa_shim_json_root(proto_item **out, proto_tree *tree, packet_info *pinfo, int proto,
                        tvbuff_t *tvb, int length);
/* proto_item_set_hidden (a static inline in proto.h). Never throws. */
void kasa_shim_item_set_hidden(proto_item *item);
/* The display name of the `*index`-th field of protocol `proto` (NULL past the last one), for
 * the keys the JSON dissector hands to other dissectors (json_3gpp registers its fields under
 * the key they decode). */
const char *kasa_protocol_field_name(int proto, unsigned index);
/* A boolean preference of another protocol (e.g. json.compact_form); `fallback` when unknown. */
int kasa_pref_bool(const char *module, const char *name, int fallback);
/* call_dissector with all columns write-protected; they are writable again on every path,
 * a throw included. */
int kasa_shim_call_dissector(int *out, dissector_handle_t handle, tvbuff_t *tvb,
                             packet_info *pinfo, proto_tree *tree);
/* tcp_dissect_pdus(desegment = true) with the shim's own get_pdu_len and dissect_pdu
 * trampolines, which call the Rust pdu_len and pdu entries. */
int kasa_shim_tcp_dissect_pdus(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                               unsigned fixed_len, void *data);
int kasa_shim_tvb_new_child_real_data(tvbuff_t **out, tvbuff_t *parent, const uint8_t *data,
                                      unsigned length, int reported_length);
int kasa_shim_tvb_new_subset_length(tvbuff_t **out, tvbuff_t *tvb, int offset, int length);
int kasa_shim_tvb_memcpy(tvbuff_t *tvb, void *target, int offset, size_t length);
/* call_dissector_only(handle, tvb, pinfo, tree, data): the callee's own result (0 = rejected),
 * columns left as they are (for handing a body back to the dissector it was taken from). */
int kasa_shim_call_dissector_only(int *out, dissector_handle_t handle, tvbuff_t *tvb,
                                  packet_info *pinfo, proto_tree *tree, void *data);

/*
 * HTTP (WIRESHARK.md section 13). What HTTP/1.x tells a dissector about the message whose body
 * it hands over, read here because the structs differ per version (http_message_info_t in 4.0,
 * media_content_info_t from 4.4; http_req_res_t gains the URI and status in 4.4; in 4.0 they are
 * only in the conversation's http_conv_t, right on the first sequential pass only). Strings are
 * NUL-terminated and live at least as long as the packet (packet or capture wmem scope); NULL
 * where the version does not say.
 */
#define KASA_HTTP_REQUEST 0
#define KASA_HTTP_RESPONSE 1
struct kasa_http_info {
    int kind;                 /* KASA_HTTP_REQUEST or KASA_HTTP_RESPONSE */
    const char *uri;          /* request: its URI with the query; response: its request's */
    uint32_t req_frame;       /* response: the frame of its request (0: unknown) */
    uint32_t status;          /* response: the status code (0: unknown) */
    const char *cookie;       /* the message's Cookie header */
    const char *set_cookie;   /* the message's Set-Cookie header */
    const char *content_type; /* the message's Content-Type header, parameters included */
    const char *seq;          /* the message's Seq header (SslAes) */
    const char *tapo_tag;     /* the message's Tapo_tag header (SslAes) */
};
/* Fills *out for a body HTTP/1.x handed to one of the plugin's handles (from the media_type
 * table or the http heuristics: `data` is what that dissector got) and returns 1; returns 0 when
 * the caller is not HTTP/1.x or the message is neither a request nor a response. What HTTP says
 * is reliable on the first pass only (4.0's URI and status, 4.6's header map): the first pass
 * keeps a copy per frame and body, keyed under `proto_kasa` in the capture scope, and later
 * passes read it. Never throws. */
int kasa_shim_http_info(struct kasa_http_info *out, packet_info *pinfo, void *data,
                        int proto_kasa);

#endif
