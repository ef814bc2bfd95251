#ifndef ARCA_CGIT2_SHIM_H
#define ARCA_CGIT2_SHIM_H
#include <git2.h>

// git_libgit2_opts is C-variadic, which Swift cannot call.
static inline int arca_git_set_strict_hash_verification(int on) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, on);
}
static inline int arca_git_set_cache_max_size(size_t bytes) {
    return git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)bytes);
}
static inline int arca_git_diff_options_version(void) { return GIT_DIFF_OPTIONS_VERSION; }
#endif
