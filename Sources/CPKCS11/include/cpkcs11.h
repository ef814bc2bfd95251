// Arca's own minimal PKCS#11 (v2.40) surface: the few types and calls the vault's HSM seal needs, and a
// small C face over a module loaded with dlopen (no vendor header, no link-time dependency on a module).
#ifndef ARCA_CPKCS11_H
#define ARCA_CPKCS11_H

#include <stddef.h>
#include <stdint.h>

// Result codes: PKCS#11's CK_RV values, plus Arca's own for failures before the module answers.
#define ARCA_P11_OK 0UL
#define ARCA_P11_ERR_DLOPEN 0x80000001UL      // the module could not be loaded
#define ARCA_P11_ERR_SYMBOL 0x80000002UL      // it has no C_GetFunctionList
#define ARCA_P11_ERR_NO_TOKEN 0x80000003UL    // no token with that label
#define ARCA_P11_ERR_NO_KEY 0x80000004UL      // no key with that label
#define ARCA_P11_ERR_MEMORY 0x80000005UL
#define ARCA_P11_ERR_AMBIGUOUS 0x80000006UL   // more than one key with that label

typedef struct arca_p11 arca_p11;

/// Loads `module`, initialises it, finds the token labelled `token_label` (labels are blank-padded to 32
/// bytes; slot ids change after a token is initialised, so the label is what identifies it), opens a
/// read-write session and logs in as the user with `pin`. On failure `*out` is NULL and `detail` (may be
/// NULL) receives a short description.
unsigned long arca_p11_open(const char *module, const char *token_label, const uint8_t *pin, size_t pin_len,
                            arca_p11 **out, char *detail, size_t detail_len);

/// Finds the AES secret key labelled `label`; when none exists and `create` is non-zero, generates a
/// 256-bit token key that is sensitive and not extractable.
unsigned long arca_p11_aes_key(arca_p11 *p, const char *label, int create, unsigned long *key);

/// AES-GCM inside the token (128-bit tag, `iv` of 12 bytes). Encrypting writes ciphertext ‖ tag
/// (in_len + 16 bytes); decrypting takes ciphertext ‖ tag. `*out_len` holds the buffer's size on entry.
unsigned long arca_p11_aes_gcm(arca_p11 *p, unsigned long key, int encrypt, const uint8_t *iv, size_t iv_len,
                               const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                               uint8_t *out, size_t *out_len);

/// Reads the key's CKA_SENSITIVE and CKA_EXTRACTABLE flags (1 or 0).
unsigned long arca_p11_key_flags(arca_p11 *p, unsigned long key, int *sensitive, int *extractable);

/// Logs out, closes the session, finalises the module and unloads it.
void arca_p11_close(arca_p11 *p);

#endif
