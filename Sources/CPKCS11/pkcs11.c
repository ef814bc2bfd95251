// Arca's PKCS#11 declarations (written from the v2.40 specification's layouts: CK_ULONG is unsigned long,
// CK_BBOOL one byte, default packing on Unix) and the calls the HSM seal makes.
#include "cpkcs11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef unsigned char CK_BBOOL;

typedef struct { unsigned char major, minor; } CK_VERSION;

typedef struct {
    unsigned char label[32];
    unsigned char manufacturerID[32];
    unsigned char model[16];
    unsigned char serialNumber[16];
    CK_ULONG flags;
    CK_ULONG counts[10];  // session counts, PIN lengths, memory: not used here
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
    unsigned char utcTime[16];
} CK_TOKEN_INFO;

typedef struct { CK_ULONG type; void *pValue; CK_ULONG ulValueLen; } CK_ATTRIBUTE;
typedef struct { CK_ULONG mechanism; void *pParameter; CK_ULONG ulParameterLen; } CK_MECHANISM;
// 48 bytes: ulIvBits is part of the v2.40 layout (omitting it shifts every later field).
typedef struct {
    unsigned char *pIv; CK_ULONG ulIvLen; CK_ULONG ulIvBits;
    unsigned char *pAAD; CK_ULONG ulAADLen; CK_ULONG ulTagBits;
} CK_GCM_PARAMS;

typedef CK_RV (*Fn)(void);  // placeholder for entries this file never calls

// The function list, in the specification's order; only the entries used are typed.
typedef struct {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *);
    CK_RV (*C_Finalize)(void *);
    Fn C_GetInfo, C_GetFunctionList;
    CK_RV (*C_GetSlotList)(CK_BBOOL, CK_SLOT_ID *, CK_ULONG *);
    Fn C_GetSlotInfo;
    CK_RV (*C_GetTokenInfo)(CK_SLOT_ID, CK_TOKEN_INFO *);
    Fn C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN;
    CK_RV (*C_OpenSession)(CK_SLOT_ID, CK_ULONG, void *, void *, CK_SESSION_HANDLE *);
    CK_RV (*C_CloseSession)(CK_SESSION_HANDLE);
    Fn C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState, C_SetOperationState;
    CK_RV (*C_Login)(CK_SESSION_HANDLE, CK_ULONG, unsigned char *, CK_ULONG);
    CK_RV (*C_Logout)(CK_SESSION_HANDLE);
    Fn C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize;
    CK_RV (*C_GetAttributeValue)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE *, CK_ULONG);
    Fn C_SetAttributeValue;
    CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG);
    CK_RV (*C_FindObjects)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE *, CK_ULONG, CK_ULONG *);
    CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE);
    CK_RV (*C_EncryptInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Encrypt)(CK_SESSION_HANDLE, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *);
    Fn C_EncryptUpdate, C_EncryptFinal;
    CK_RV (*C_DecryptInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
    CK_RV (*C_Decrypt)(CK_SESSION_HANDLE, unsigned char *, CK_ULONG, unsigned char *, CK_ULONG *);
    Fn C_DecryptUpdate, C_DecryptFinal;
    Fn C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal;
    Fn C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover;
    Fn C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover;
    Fn C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate;
    CK_RV (*C_GenerateKey)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_ATTRIBUTE *, CK_ULONG, CK_OBJECT_HANDLE *);
    Fn C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom;
    Fn C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent;
} CK_FUNCTION_LIST;

#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKU_USER 1UL
#define CKO_SECRET_KEY 4UL
#define CKK_AES 0x1fUL
#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_VALUE_LEN 0x161UL
#define CKA_EXTRACTABLE 0x162UL
#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_GCM 0x1087UL

struct arca_p11 {
    void *library;
    CK_FUNCTION_LIST *f;
    CK_SESSION_HANDLE session;
    int initialized_here;
    int logged_in;
};

static void set_detail(char *detail, size_t len, const char *text) {
    if (detail && len) snprintf(detail, len, "%s", text);
}

static int label_matches(const unsigned char padded[32], const char *label) {
    size_t n = strlen(label);
    if (n > 32) return 0;
    if (memcmp(padded, label, n) != 0) return 0;
    for (size_t i = n; i < 32; i++) if (padded[i] != ' ') return 0;
    return 1;
}

unsigned long arca_p11_open(const char *module, const char *token_label, const uint8_t *pin, size_t pin_len,
                            arca_p11 **out, char *detail, size_t detail_len) {
    *out = NULL;
    arca_p11 *p = calloc(1, sizeof *p);
    if (!p) return ARCA_P11_ERR_MEMORY;
    p->library = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (!p->library) {
        const char *e = dlerror();
        set_detail(detail, detail_len, e ? e : "dlopen failed");
        free(p);
        return ARCA_P11_ERR_DLOPEN;
    }
    CK_RV (*get_list)(CK_FUNCTION_LIST **) = (CK_RV (*)(CK_FUNCTION_LIST **))dlsym(p->library, "C_GetFunctionList");
    if (!get_list) {
        set_detail(detail, detail_len, "the module has no C_GetFunctionList");
        dlclose(p->library);
        free(p);
        return ARCA_P11_ERR_SYMBOL;
    }
    CK_RV rv = get_list(&p->f);
    if (rv != 0) { set_detail(detail, detail_len, "C_GetFunctionList"); goto fail; }
    rv = p->f->C_Initialize(NULL);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = 0; else if (rv == 0) p->initialized_here = 1;
    if (rv != 0) { set_detail(detail, detail_len, "C_Initialize"); goto fail; }

    CK_ULONG count = 0;
    rv = p->f->C_GetSlotList(1, NULL, &count);
    if (rv != 0) { set_detail(detail, detail_len, "C_GetSlotList"); goto fail; }
    CK_SLOT_ID *slots = calloc(count ? count : 1, sizeof *slots);
    if (!slots) { rv = ARCA_P11_ERR_MEMORY; goto fail; }
    rv = p->f->C_GetSlotList(1, slots, &count);
    CK_SLOT_ID found = 0;
    int have = 0;
    for (CK_ULONG i = 0; rv == 0 && i < count && !have; i++) {
        CK_TOKEN_INFO info;
        memset(&info, 0, sizeof info);
        if (p->f->C_GetTokenInfo(slots[i], &info) == 0 && label_matches(info.label, token_label)) {
            found = slots[i];
            have = 1;
        }
    }
    free(slots);
    if (rv != 0) { set_detail(detail, detail_len, "C_GetSlotList"); goto fail; }
    if (!have) { set_detail(detail, detail_len, "no token with that label"); rv = ARCA_P11_ERR_NO_TOKEN; goto fail; }

    rv = p->f->C_OpenSession(found, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->session);
    if (rv != 0) { set_detail(detail, detail_len, "C_OpenSession"); goto fail; }
    rv = p->f->C_Login(p->session, CKU_USER, (unsigned char *)pin, (CK_ULONG)pin_len);
    if (rv == CKR_USER_ALREADY_LOGGED_IN) rv = 0; else if (rv == 0) p->logged_in = 1;
    if (rv != 0) { set_detail(detail, detail_len, "C_Login"); goto fail; }
    *out = p;
    return 0;
fail:
    arca_p11_close(p);
    return rv;
}

unsigned long arca_p11_aes_key(arca_p11 *p, const char *label, int create, unsigned long *key) {
    CK_ULONG cls = CKO_SECRET_KEY, type = CKK_AES;
    CK_ATTRIBUTE find[3] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
    };
    CK_RV rv = p->f->C_FindObjectsInit(p->session, find, 3);
    if (rv != 0) return rv;
    CK_OBJECT_HANDLE handles[2];
    CK_ULONG n = 0;
    rv = p->f->C_FindObjects(p->session, handles, 2, &n);
    p->f->C_FindObjectsFinal(p->session);
    if (rv != 0) return rv;
    if (n > 1) return ARCA_P11_ERR_AMBIGUOUS;
    if (n == 1) { *key = handles[0]; return 0; }
    if (!create) return ARCA_P11_ERR_NO_KEY;

    CK_BBOOL yes = 1, no = 0;
    CK_ULONG length = 32;
    CK_ATTRIBUTE tmpl[9] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_VALUE_LEN, &length, sizeof length},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},
        {CKA_EXTRACTABLE, &no, 1},
        {CKA_ENCRYPT, &yes, 1},
        {CKA_DECRYPT, &yes, 1},
    };
    CK_ATTRIBUTE labelled[10];
    memcpy(labelled, tmpl, sizeof tmpl);
    labelled[9] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)};
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE h = 0;
    rv = p->f->C_GenerateKey(p->session, &gen, labelled, 10, &h);
    if (rv == 0) *key = h;
    return rv;
}

unsigned long arca_p11_aes_gcm(arca_p11 *p, unsigned long key, int encrypt, const uint8_t *iv, size_t iv_len,
                               const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len,
                               uint8_t *out, size_t *out_len) {
    // The parameter block lives on this frame for the whole operation (never point into a temporary).
    CK_GCM_PARAMS params;
    params.pIv = (unsigned char *)iv;
    params.ulIvLen = (CK_ULONG)iv_len;
    params.ulIvBits = (CK_ULONG)iv_len * 8;
    params.pAAD = (unsigned char *)aad;
    params.ulAADLen = (CK_ULONG)aad_len;
    params.ulTagBits = 128;
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof params};
    CK_ULONG produced = (CK_ULONG)*out_len;
    CK_RV rv;
    if (encrypt) {
        rv = p->f->C_EncryptInit(p->session, &mech, key);
        if (rv == 0) rv = p->f->C_Encrypt(p->session, (unsigned char *)in, (CK_ULONG)in_len, out, &produced);
    } else {
        rv = p->f->C_DecryptInit(p->session, &mech, key);
        if (rv == 0) rv = p->f->C_Decrypt(p->session, (unsigned char *)in, (CK_ULONG)in_len, out, &produced);
    }
    if (rv == 0) *out_len = (size_t)produced;
    return rv;
}

unsigned long arca_p11_key_flags(arca_p11 *p, unsigned long key, int *sensitive, int *extractable) {
    CK_BBOOL s = 0, e = 1;
    CK_ATTRIBUTE attrs[2] = {{CKA_SENSITIVE, &s, 1}, {CKA_EXTRACTABLE, &e, 1}};
    CK_RV rv = p->f->C_GetAttributeValue(p->session, key, attrs, 2);
    *sensitive = s ? 1 : 0;
    *extractable = e ? 1 : 0;
    return rv;
}

void arca_p11_close(arca_p11 *p) {
    if (!p) return;
    if (p->f) {
        if (p->session) {
            if (p->logged_in) p->f->C_Logout(p->session);
            p->f->C_CloseSession(p->session);
        }
        if (p->initialized_here) p->f->C_Finalize(NULL);
    }
    if (p->library) dlclose(p->library);
    free(p);
}
