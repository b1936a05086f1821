/*
 * The user's secrets for the encrypted transports (compiled by ../../build.rs with the shim;
 * bindgen reads this header through ../../wrapper.h): two UATs and a preference, registered on
 * the kasa preference module, read by Rust through the plain functions below.
 *
 *   kasa_credentials  (username, password)  KLAP: the device owner's cloud account
 *   kasa_aes_keys     (key, iv)             AES: 32 hex digits each, checked on every update
 *   kasa.rsa_private_key                    AES: the app's RSA private key file (PEM), if any
 *
 * UATs are C macros (epan/uat.h), their callbacks' types change from gboolean (4.0) to bool
 * (4.4): the records, callbacks and field arrays live in secrets.c, compiled against the
 * installed headers. Nothing here logs or formats a secret; error texts name the row's
 * problem, never its value.
 *
 * Pointers returned by the accessors are valid until the tables or preferences change (a GUI
 * edit between packets): copy them at once.
 */
#ifndef KASA_SECRETS_H
#define KASA_SECRETS_H

#include <stdint.h>
#include <epan/prefs.h>

/* Registers both UATs and the key-file preference on `module` (the protocol's preference
 * module, from prefs_register_protocol). Called once, from register_protoinfo. */
void kasa_secrets_register(module_t *module);

/* Rows of kasa_credentials; kasa_secrets_credential fills the i-th (NUL-terminated UTF-8,
 * never NULL) and returns 1, or returns 0 when i is out of range. */
unsigned kasa_secrets_credentials_len(void);
int kasa_secrets_credential(unsigned i, const char **username, const char **password);

/* Rows of kasa_aes_keys; kasa_secrets_aes_key returns 0 for a row that fails the check (32 hex
 * digits each) as for an index out of range. */
unsigned kasa_secrets_aes_keys_len(void);
int kasa_secrets_aes_key(unsigned i, const char **key, const char **iv);

/* kasa.rsa_private_key, NULL when unset (empty). */
const char *kasa_secrets_rsa_key_path(void);

/* A counter that moves whenever one of the above may have changed (a UAT edited, loaded or
 * reset; the key-file preference set to another value). */
uint64_t kasa_secrets_generation(void);
/* Frees what kasa_secrets_generation keeps (at the end of a capture: Wireshark unloads the
 * plugin at exit, and memory only a static points to would then be lost). */
void kasa_secrets_release(void);

#endif
