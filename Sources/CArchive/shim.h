#ifndef ARCA_CARCHIVE_SHIM_H
#define ARCA_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

// AE_IFREG is a macro of a cast Swift does not import.
static inline int arca_archive_entry_is_regular(struct archive_entry *e) {
    return archive_entry_filetype(e) == AE_IFREG;
}
#endif
