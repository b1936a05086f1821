/*
 * The user's secrets: see secrets.h. One C file because uat.h is macros and callback types that
 * change between versions; everything is plain C over the installed headers.
 */
/* glib 2.78 turns g_free() into a call of g_free_sized() (uat.h's UAT_CSTRING_CB_DEF expands to
 * g_free too), a symbol older glib lacks: a plugin built on a newer distribution could then not
 * even be loaded by an older Wireshark to be refused with its "compiled for Wireshark version"
 * message. Pin the glib API this file sees to 2.74, Debian 12's, the oldest supported. */
#define GLIB_VERSION_MIN_REQUIRED GLIB_VERSION_2_56
#define GLIB_VERSION_MAX_ALLOWED GLIB_VERSION_2_74

#include "secrets.h"

#include <stdbool.h>
#include <string.h>
#include <glib.h>
#include <epan/packet.h>
#include <epan/uat.h>

/* The update callbacks' return type: gboolean in 4.0, bool from 4.4 (taken from uat.h's own
 * typedef; the call inside __typeof__ is never evaluated). */
typedef __typeof__(((uat_update_cb_t)0)(NULL, NULL)) kasa_uat_ret;

static uint64_t generation;

static void bump(void)
{
    generation++;
}

/* ------------------------------------------------------------------------------------------ */
/* kasa_credentials */

typedef struct {
    char *username;
    char *password;
} kasa_credential_t;

static kasa_credential_t *credentials;
static unsigned n_credentials;

UAT_CSTRING_CB_DEF(kasa_credentials, username, kasa_credential_t)
UAT_CSTRING_CB_DEF(kasa_credentials, password, kasa_credential_t)

static void *credential_copy(void *dest, const void *source, size_t len _U_)
{
    kasa_credential_t *d = (kasa_credential_t *)dest;
    const kasa_credential_t *s = (const kasa_credential_t *)source;
    d->username = g_strdup(s->username);
    d->password = g_strdup(s->password);
    bump();
    return d;
}

static void credential_free(void *record)
{
    kasa_credential_t *r = (kasa_credential_t *)record;
    g_free(r->username);
    g_free(r->password);
    r->username = NULL;
    r->password = NULL;
    bump();
}

static kasa_uat_ret credential_update(void *record, char **error)
{
    kasa_credential_t *r = (kasa_credential_t *)record;
    bump();
    if (r->username == NULL)
        r->username = g_strdup("");
    if (r->password == NULL)
        r->password = g_strdup("");
    if (!g_utf8_validate(r->username, -1, NULL)) {
        *error = g_strdup("kasa_credentials: the username is not valid UTF-8");
        return false;
    }
    if (!g_utf8_validate(r->password, -1, NULL)) {
        *error = g_strdup("kasa_credentials: the password is not valid UTF-8");
        return false;
    }
    return true;
}

/* The password is a plain string column: epan's UATs (4.0 to 4.6) have no password text mode,
 * so the GUI shows it and the uat file holds it in clear, as for every UAT secret. */
static uat_field_t credential_fields[] = {
    UAT_FLD_CSTRING(kasa_credentials, username, "Username",
                    "The device owner's TP-Link cloud account (an e-mail address)"),
    UAT_FLD_CSTRING(kasa_credentials, password, "Password",
                    "The password of that account (KLAP hashes it with the username)"),
    UAT_END_FIELDS};

/* ------------------------------------------------------------------------------------------ */
/* kasa_aes_keys */

typedef struct {
    char *key;
    char *iv;
} kasa_aes_key_t;

static kasa_aes_key_t *aes_keys;
static unsigned n_aes_keys;

UAT_CSTRING_CB_DEF(kasa_aes_keys, key, kasa_aes_key_t)
UAT_CSTRING_CB_DEF(kasa_aes_keys, iv, kasa_aes_key_t)

static void *aes_key_copy(void *dest, const void *source, size_t len _U_)
{
    kasa_aes_key_t *d = (kasa_aes_key_t *)dest;
    const kasa_aes_key_t *s = (const kasa_aes_key_t *)source;
    d->key = g_strdup(s->key);
    d->iv = g_strdup(s->iv);
    bump();
    return d;
}

static void aes_key_free(void *record)
{
    kasa_aes_key_t *r = (kasa_aes_key_t *)record;
    g_free(r->key);
    g_free(r->iv);
    r->key = NULL;
    r->iv = NULL;
    bump();
}

/* Whether s is exactly 32 hexadecimal digits; otherwise *error says what is wrong (its length
 * or the position of the first non-hex character, never the value). */
static bool check_hex16(const char *what, const char *s, char **error)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n != 32) {
        *error = g_strdup_printf(
            "kasa_aes_keys: the %s must be 32 hexadecimal digits (16 bytes), got %zu characters",
            what, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!g_ascii_isxdigit(s[i])) {
            *error = g_strdup_printf(
                "kasa_aes_keys: the %s must be 32 hexadecimal digits (16 bytes); character %zu "
                "is not a hexadecimal digit",
                what, i + 1);
            return false;
        }
    }
    return true;
}

static kasa_uat_ret aes_key_update(void *record, char **error)
{
    kasa_aes_key_t *r = (kasa_aes_key_t *)record;
    bump();
    return check_hex16("key", r->key, error) && check_hex16("iv", r->iv, error);
}

static uat_field_t aes_key_fields[] = {
    UAT_FLD_CSTRING(kasa_aes_keys, key, "Key",
                    "The session's AES-128 key: 32 hexadecimal digits"),
    UAT_FLD_CSTRING(kasa_aes_keys, iv, "IV",
                    "The session's AES-128-CBC IV: 32 hexadecimal digits"),
    UAT_END_FIELDS};

/* ------------------------------------------------------------------------------------------ */
/* kasa.rsa_private_key, and what is common. */

/* prefs_register_filename_preference replaces this with its own copy and keeps it updated. */
static const char *rsa_key_path = "";
/* The value last seen by kasa_secrets_generation. */
static char *rsa_key_path_seen;

static void tables_changed(void)
{
    bump();
}

void kasa_secrets_register(module_t *module)
{
    uat_t *creds = uat_new("Kasa credentials", sizeof(kasa_credential_t), "kasa_credentials",
                           true, &credentials, &n_credentials, UAT_AFFECTS_DISSECTION, NULL,
                           credential_copy, credential_update, credential_free, tables_changed,
                           tables_changed, credential_fields);
    prefs_register_uat_preference(
        module, "credentials", "KLAP credentials",
        "TP-Link cloud accounts (username, password) tried on KLAP handshakes", creds);

    uat_t *keys = uat_new("Kasa AES keys", sizeof(kasa_aes_key_t), "kasa_aes_keys", true,
                          &aes_keys, &n_aes_keys, UAT_AFFECTS_DISSECTION, NULL, aes_key_copy,
                          aes_key_update, aes_key_free, tables_changed, tables_changed,
                          aes_key_fields);
    prefs_register_uat_preference(module, "aes_keys", "AES session keys",
                                  "AES transport session keys (key, iv), 32 hex digits each",
                                  keys);

    prefs_register_filename_preference(
        module, "rsa_private_key", "RSA private key file",
        "The app's RSA private key (PEM) for the AES transport handshake; empty for none",
        &rsa_key_path, false);
}

unsigned kasa_secrets_credentials_len(void)
{
    return credentials != NULL ? n_credentials : 0;
}

int kasa_secrets_credential(unsigned i, const char **username, const char **password)
{
    if (i >= kasa_secrets_credentials_len())
        return 0;
    *username = credentials[i].username != NULL ? credentials[i].username : "";
    *password = credentials[i].password != NULL ? credentials[i].password : "";
    return 1;
}

unsigned kasa_secrets_aes_keys_len(void)
{
    return aes_keys != NULL ? n_aes_keys : 0;
}

int kasa_secrets_aes_key(unsigned i, const char **key, const char **iv)
{
    if (i >= kasa_secrets_aes_keys_len())
        return 0;
    /* The check again: whether a row that failed it stays in the table differs by version. */
    char *error = NULL;
    if (!check_hex16("key", aes_keys[i].key, &error) ||
        !check_hex16("iv", aes_keys[i].iv, &error)) {
        g_free(error);
        return 0;
    }
    *key = aes_keys[i].key;
    *iv = aes_keys[i].iv;
    return 1;
}

const char *kasa_secrets_rsa_key_path(void)
{
    return rsa_key_path != NULL && rsa_key_path[0] != '\0' ? rsa_key_path : NULL;
}

uint64_t kasa_secrets_generation(void)
{
    const char *now = rsa_key_path != NULL ? rsa_key_path : "";
    if (rsa_key_path_seen == NULL || strcmp(rsa_key_path_seen, now) != 0) {
        g_free(rsa_key_path_seen);
        rsa_key_path_seen = g_strdup(now);
        bump();
    }
    return generation;
}

void kasa_secrets_release(void)
{
    g_free(rsa_key_path_seen);
    rsa_key_path_seen = NULL;
    bump();
}
