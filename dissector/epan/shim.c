/*
 * The C shell between epan and the Rust plugin: see shim.h for the rule it keeps.
 *
 * Wireshark's exceptions (epan/exceptions.h, epan/except.h, 4.0 to 4.6):
 *
 *  - TRY pushes a catcher and setjmp()s; THROW (except_throw) longjmp()s to the innermost
 *    catcher. CATCH_ALL marks the exception caught, so ENDTRY does not rethrow it; ENDTRY
 *    then pops the catcher and except_free()s the exception's except_dyndata.
 *  - THROW_FORMATTED/except_throwf put the formatted message in except_dyndata, so GET_MESSAGE
 *    (except_message(exc)) points at memory that ENDTRY frees. The message is therefore copied
 *    inside CATCH_ALL, before ENDTRY.
 *  - THROW_MESSAGE(code, msg) throws with except_dyndata NULL: the thrower owns msg and must keep
 *    it alive until the catcher is done with it. The copy lives in the packet's pinfo->pool
 *    (freed with the packet, long after any catcher), or, outside a dissection, in a static
 *    buffer. A NULL message (a plain THROW, e.g. every tvb bounds error) stays NULL.
 */
#include "shim.h"

#include <stdbool.h>
#include <string.h>
#include <epan/exceptions.h>
#include <epan/column-utils.h>
#include <epan/conversation.h>
#include <epan/proto_data.h>
#include <epan/prefs.h>
#include <epan/prefs-int.h>
#include <epan/dissectors/packet-http.h>
#include <ws_version.h>

/* What HTTP hands its body subdissectors: http_message_info_t (packet-http.h) in 4.0,
 * media_content_info_t (packet-media-type.h) from 4.4, with the same layout
 * {type; media_str; content_id; data}; type 0 is a request, 1 a response. */
#if __has_include(<epan/dissectors/packet-media-type.h>)
#include <epan/dissectors/packet-media-type.h>
typedef media_content_info_t kasa_media_info;
#else
typedef http_message_info_t kasa_media_info;
#endif
/* http_req_res_t carries request_uri and response_code from 4.4 on. */
#define KASA_REQRES_HAS_URI                                                                    \
    (WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 4))

static struct kasa_rust_entries entries;

void kasa_shim_set_entries(const struct kasa_rust_entries *e)
{
    entries = *e;
}

/* ------------------------------------------------------------------------------------------ */
/* The pending exception: first one wins until a trampoline takes it. */

static _Thread_local struct {
    bool set;
    unsigned long code;
    const char *message;
} pending;

/* The packet being dissected by the innermost trampoline (NULL outside a dissection). */
static _Thread_local packet_info *current_pinfo;

static char static_message[512];

static void record(unsigned long code, const char *message)
{
    if (pending.set)
        return;
    pending.set = true;
    pending.code = code;
    if (message == NULL) {
        pending.message = NULL;
    } else if (current_pinfo != NULL && current_pinfo->pool != NULL) {
        pending.message = wmem_strdup(current_pinfo->pool, message);
    } else {
        if (message != static_message)
            g_strlcpy(static_message, message, sizeof static_message);
        pending.message = static_message;
    }
}

int kasa_shim_pending(void)
{
    return pending.set;
}

/* Clears the slot and rethrows its exception, from C. Called by trampolines only, after the
 * Rust entry point returned: the catcher it reaches is in epan, above the trampoline. */
static void rethrow_pending(void)
{
    if (!pending.set)
        return;
    unsigned long code = pending.code;
    const char *message = pending.message;
    pending.set = false;
    pending.message = NULL;
    THROW_MESSAGE(code, message);
}

/* Runs `call` (a statement) under TRY; on any exception, records it and sets `status`. Never
 * `return` from inside: that would leave the catcher pushed. */
#define GUARD(status, call)                                                                    \
    TRY                                                                                        \
    {                                                                                          \
        call;                                                                                  \
    }                                                                                          \
    CATCH_ALL                                                                                  \
    {                                                                                          \
        record(EXCEPT_CODE, GET_MESSAGE);                                                      \
        (status) = KASA_THROWN;                                                                \
    }                                                                                          \
    ENDTRY

/* The body of a wrapper that has nothing to do after the call. */
#define WRAP(call)                                                                             \
    do {                                                                                       \
        if (pending.set)                                                                       \
            return KASA_THROWN;                                                                \
        volatile int status = KASA_OK;                                                         \
        GUARD(status, call);                                                                   \
        return status;                                                                         \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Trampolines. */

static int run(kasa_rust_dissector f, tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
               void *data)
{
    packet_info *outer = current_pinfo;
    current_pinfo = pinfo;
    int r = f != NULL ? f(tvb, pinfo, tree, data) : 0;
    current_pinfo = outer;
    rethrow_pending();
    return r;
}

int kasa_tramp_tcp_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.tcp_port, tvb, pinfo, tree, data);
}

int kasa_tramp_tcp_conv(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.tcp_conv, tvb, pinfo, tree, data);
}

int kasa_tramp_udp_port(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.udp_port, tvb, pinfo, tree, data);
}

int kasa_tramp_udp_conv(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.udp_conv, tvb, pinfo, tree, data);
}

kasa_heur_ret kasa_tramp_heur_tcp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.heur_tcp, tvb, pinfo, tree, data) != 0;
}

kasa_heur_ret kasa_tramp_heur_udp(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.heur_udp, tvb, pinfo, tree, data) != 0;
}

static unsigned tramp_pdu_len(packet_info *pinfo, tvbuff_t *tvb, int offset, void *data)
{
    packet_info *outer = current_pinfo;
    current_pinfo = pinfo;
    unsigned r = entries.pdu_len != NULL ? entries.pdu_len(pinfo, tvb, offset, data) : 0;
    current_pinfo = outer;
    rethrow_pending();
    return r;
}

static int tramp_pdu(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.pdu, tvb, pinfo, tree, data);
}

int kasa_tramp_http_media_json(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.http_media_json, tvb, pinfo, tree, data);
}

int kasa_tramp_http_media_octet(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.http_media_octet, tvb, pinfo, tree, data);
}

int kasa_tramp_http_media_form(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.http_media_form, tvb, pinfo, tree, data);
}

int kasa_tramp_http_media_text_html(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                    void *data)
{
    return run(entries.http_media_text_html, tvb, pinfo, tree, data);
}

int kasa_tramp_http_media_text_plain(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                     void *data)
{
    return run(entries.http_media_text_plain, tvb, pinfo, tree, data);
}

int kasa_tramp_http_body(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.http_body, tvb, pinfo, tree, data);
}

kasa_heur_ret kasa_tramp_heur_http(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.heur_http, tvb, pinfo, tree, data) != 0;
}

int kasa_tramp_post(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.post, tvb, pinfo, tree, data);
}

int kasa_tramp_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.tls, tvb, pinfo, tree, data);
}

kasa_heur_ret kasa_tramp_heur_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    return run(entries.heur_tls, tvb, pinfo, tree, data) != 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Wrappers. */

int kasa_shim_tree_add_item(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, unsigned encoding)
{
    WRAP(*out = proto_tree_add_item(tree, hf, tvb, start, length, encoding));
}

int kasa_shim_tree_add_string(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb,
                              int start, int length, const char *value)
{
    WRAP(*out = proto_tree_add_string(tree, hf, tvb, start, length, value));
}

int kasa_shim_tree_add_uint(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, uint32_t value)
{
    WRAP(*out = proto_tree_add_uint(tree, hf, tvb, start, length, value));
}

int kasa_shim_tree_add_int(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                           int length, int32_t value)
{
    WRAP(*out = proto_tree_add_int(tree, hf, tvb, start, length, value));
}

int kasa_shim_tree_add_boolean(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb,
                               int start, int length, int value)
{
    /* The value parameter is guint32 up to 4.2 and uint64_t from 4.4: 0/1 converts to either. */
    WRAP(*out = proto_tree_add_boolean(tree, hf, tvb, start, length, value ? 1 : 0));
}

int kasa_shim_tree_add_time(proto_item **out, proto_tree *tree, int hf, tvbuff_t *tvb, int start,
                            int length, const nstime_t *value)
{
    WRAP(*out = proto_tree_add_time(tree, hf, tvb, start, length, value));
}

int kasa_shim_item_add_subtree(proto_tree **out, proto_item *item, int ett)
{
    WRAP(*out = proto_item_add_subtree(item, ett));
}

int kasa_shim_item_append_text(proto_item *item, const char *text)
{
    WRAP(proto_item_append_text(item, "%s", text));
}

int kasa_shim_item_set_text(proto_item *item, const char *text)
{
    WRAP(proto_item_set_text(item, "%s", text));
}

void kasa_shim_item_set_generated(proto_item *item)
{
    proto_item_set_generated(item);
}

int kasa_shim_visited(const packet_info *pinfo)
{
    return pinfo->fd != NULL && PINFO_FD_VISITED(pinfo);
}

int kasa_shim_expert_add_info(packet_info *pinfo, proto_item *item, expert_field *ei,
                              const char *text)
{
    /* Returns void in 4.0 and proto_item * from 4.2: discarded either way. */
    WRAP((void)expert_add_info_format(pinfo, item, ei, "%s", text));
}

int kasa_shim_call_dissector(int *out, dissector_handle_t handle, tvbuff_t *tvb,
                             packet_info *pinfo, proto_tree *tree)
{
    if (pending.set)
        return KASA_THROWN;
    volatile int status = KASA_OK;
    /* Otherwise JSON appends ", JavaScript Object Notation" to Info and makes the Protocol
     * column ".../JSON". CATCH_ALL keeps every exception here, so the columns are writable
     * again below on every path. */
    col_set_writable(pinfo->cinfo, -1, false);
    GUARD(status, *out = call_dissector(handle, tvb, pinfo, tree));
    col_set_writable(pinfo->cinfo, -1, true);
    return status;
}

int kasa_shim_tcp_dissect_pdus(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                               unsigned fixed_len, void *data)
{
    WRAP(tcp_dissect_pdus(tvb, pinfo, tree, true, fixed_len, tramp_pdu_len, tramp_pdu, data));
}

int kasa_shim_tvb_new_child_real_data(tvbuff_t **out, tvbuff_t *parent, const uint8_t *data,
                                      unsigned length, int reported_length)
{
    WRAP(*out = tvb_new_child_real_data(parent, data, length, reported_length));
}

int kasa_shim_tvb_new_subset_length(tvbuff_t **out, tvbuff_t *tvb, int offset, int length)
{
    WRAP(*out = tvb_new_subset_length(tvb, offset, length));
}

int kasa_shim_tvb_memcpy(tvbuff_t *tvb, void *target, int offset, size_t length)
{
    WRAP((void)tvb_memcpy(tvb, target, offset, length));
}

int kasa_shim_call_dissector_only(int *out, dissector_handle_t handle, tvbuff_t *tvb,
                                  packet_info *pinfo, proto_tree *tree, void *data)
{
    WRAP(*out = call_dissector_only(handle, tvb, pinfo, tree, data));
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP. */

/* Whether the protocol below the plugin's own layers is HTTP: the media_type handle's protocol
 * adds no layer (a helper protocol), the body hook and the heuristic add kasa's. */
static bool called_by_http(packet_info *pinfo, int proto_http, int proto_kasa)
{
    if (pinfo->layers == NULL)
        return false;
    for (wmem_list_frame_t *f = wmem_list_tail(pinfo->layers); f != NULL;
         f = wmem_list_frame_prev(f)) {
        int id = GPOINTER_TO_INT(wmem_list_frame_data(f));
        if (id != proto_kasa)
            return id == proto_http;
    }
    return false;
}

static const char *header(wmem_map_t *headers, const char *lower_name)
{
    return headers != NULL ? (const char *)wmem_map_lookup(headers, lower_name) : NULL;
}

/* Key (in the capture scope, per frame) of the record the plugin keeps for the n-th HTTP body
 * of a frame; the packet-scope key of the per-packet body counter. */
#define KASA_PD_HTTP_RECORD(n) (0x100u + (n))
#define KASA_PD_HTTP_COUNTER 3u

static const char *keep(const char *s)
{
    return s != NULL ? wmem_strdup(wmem_file_scope(), s) : NULL;
}

/*
 * What HTTP says is reliable on the first, sequential pass only: in 4.0 the URI and status are
 * the conversation's last ones, and 4.6 hands later passes a header map that is not this
 * message's (its request/response headers are kept per exchange on the first pass only, and a
 * later pass gets an empty map or the conversation's last one). So the first pass reads it all
 * and keeps a copy per frame and body in the capture scope; later passes (tshark -2, GUI clicks)
 * read the copy.
 */
int kasa_shim_http_info(struct kasa_http_info *out, packet_info *pinfo, void *data,
                        int proto_kasa)
{
    static int proto_http = -1;
    if (proto_http < 0)
        proto_http = proto_get_id_by_filter_name("http");
    memset(out, 0, sizeof *out);
    if (proto_http < 0 || !called_by_http(pinfo, proto_http, proto_kasa))
        return 0;

    /* This body's index among the frame's HTTP bodies (pipelined messages): the same on every
     * pass, since HTTP hands them over in the same order. */
    unsigned *counter = (unsigned *)p_get_proto_data(pinfo->pool, pinfo, proto_kasa,
                                                     KASA_PD_HTTP_COUNTER);
    if (counter == NULL) {
        counter = wmem_new0(pinfo->pool, unsigned);
        p_add_proto_data(pinfo->pool, pinfo, proto_kasa, KASA_PD_HTTP_COUNTER, counter);
    }
    unsigned index = (*counter)++;

    bool first_pass = !PINFO_FD_VISITED(pinfo);
    if (!first_pass) {
        const struct kasa_http_info *kept = (const struct kasa_http_info *)p_get_proto_data(
            wmem_file_scope(), pinfo, proto_kasa, KASA_PD_HTTP_RECORD(index));
        if (kept != NULL) {
            *out = *kept;
            return 1;
        }
        /* Not seen on the first pass: what can be read reliably now, below. */
    }

    http_req_res_t *rr =
        (http_req_res_t *)p_get_proto_data(wmem_file_scope(), pinfo, proto_http, 0);
    wmem_map_t *headers = NULL;
    const kasa_media_info *info = (const kasa_media_info *)data;
    if (info != NULL) {
        /* Only HTTP/1.x requests and responses carry the header map in `data`. */
        if ((int)info->type != 0 && (int)info->type != 1)
            return 0;
        if (info->data == NULL)
            return 0;
        out->kind = (int)info->type == 0 ? KASA_HTTP_REQUEST : KASA_HTTP_RESPONSE;
        headers = (wmem_map_t *)info->data;
    } else {
        /* 4.0's http heuristics get no data: the frame's request/response record says which. */
        if (rr == NULL)
            return 0;
        if (rr->req_framenum == pinfo->num)
            out->kind = KASA_HTTP_REQUEST;
        else if (rr->res_framenum == pinfo->num)
            out->kind = KASA_HTTP_RESPONSE;
        else
            return 0;
    }
    if (first_pass) {
        out->cookie = header(headers, "cookie");
        out->set_cookie = header(headers, "set-cookie");
        out->content_type = header(headers, "content-type");
        out->seq = header(headers, "seq");
        out->tapo_tag = header(headers, "tapo_tag");
    }

    if (out->kind == KASA_HTTP_RESPONSE && rr != NULL && rr->req_framenum != 0 &&
        rr->req_framenum != pinfo->num)
        out->req_frame = rr->req_framenum;

#if KASA_REQRES_HAS_URI
    if (rr != NULL) {
        out->uri = rr->request_uri;
        if (out->kind == KASA_HTTP_RESPONSE)
            out->status = rr->response_code;
    }
#else
    /* The conversation holds the last request line and status line dissected: this message's
     * (or, for a response, its request's) on the first, sequential pass. */
    if (first_pass) {
        conversation_t *conv = find_conversation_pinfo(pinfo, 0);
        http_conv_t *hc =
            conv != NULL ? (http_conv_t *)conversation_get_proto_data(conv, proto_http) : NULL;
        if (hc != NULL) {
            out->uri = hc->request_uri;
            if (out->kind == KASA_HTTP_RESPONSE)
                out->status = hc->response_code;
        }
    }
#endif

    if (first_pass) {
        struct kasa_http_info *kept = wmem_new(wmem_file_scope(), struct kasa_http_info);
        *kept = *out;
        kept->uri = keep(out->uri);
        kept->cookie = keep(out->cookie);
        kept->set_cookie = keep(out->set_cookie);
        kept->content_type = keep(out->content_type);
        kept->seq = keep(out->seq);
        kept->tapo_tag = keep(out->tapo_tag);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_kasa, KASA_PD_HTTP_RECORD(index), kept);
    }
    return 1;
}

static void json_root(proto_item **out, proto_tree *tree, packet_info *pinfo, int proto,
                      tvbuff_t *tvb, int length)
{
    *out = proto_tree_add_item(tree, proto, tvb, 0, length, ENC_NA);
    if (pinfo->match_string && pinfo->match_string[0]) {
        proto_item_append_text(*out, ": %s", pinfo->match_string);
    }
}

int kasa_shim_json_root(proto_item **out, proto_tree *tree, packet_info *pinfo, int proto,
                        tvbuff_t *tvb, int length)
{
    if (pending.set) {
        return KASA_THROWN;
    }
    /* The layer bookkeeping of epan's add_layer (packet.c), which call_dissector does before
     * it runs a protocol's dissector: the frame's list of layers, and the per-protocol layer
     * number that removing a layer later looks up. */
    pinfo->curr_layer_num++;
    wmem_list_append(pinfo->layers, GINT_TO_POINTER(proto));
    if (pinfo->proto_layers == NULL) {
        pinfo->proto_layers = wmem_map_new(pinfo->pool, g_direct_hash, g_direct_equal);
    }
    int *count = wmem_map_lookup(pinfo->proto_layers, GINT_TO_POINTER(proto));
    if (count == NULL) {
        count = wmem_new(pinfo->pool, int);
        *count = 1;
        wmem_map_insert(pinfo->proto_layers, GINT_TO_POINTER(proto), count);
    } else {
        (*count)++;
    }
    pinfo->curr_proto_layer_num = (guint8)*count;
    volatile int status = KASA_OK;
    GUARD(status, json_root(out, tree, pinfo, proto, tvb, length));
    return status;
}

void kasa_shim_item_set_hidden(proto_item *item)
{
    proto_item_set_hidden(item);
}

const char *kasa_protocol_field_name(int proto, unsigned index)
{
    void *cookie = NULL;
    header_field_info *hf = proto_get_first_protocol_field(proto, &cookie);
    for (unsigned i = 0; hf != NULL && i < index; i++) {
        hf = proto_get_next_protocol_field(proto, &cookie);
    }
    return hf ? hf->name : NULL;
}

int kasa_pref_bool(const char *module, const char *name, int fallback)
{
    module_t *m = prefs_find_module(module);
    pref_t *p = m ? prefs_find_preference(m, name) : NULL;
    return p ? (int)prefs_get_bool_value(p, pref_current) : fallback;
}

int kasa_field_referenced(proto_tree *tree, int id)
{
    return proto_field_is_referenced(tree, id) ? 1 : 0;
}
