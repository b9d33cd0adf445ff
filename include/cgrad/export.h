/* Symbol visibility for libcgrad's public API. */
#ifndef CGRAD_EXPORT_H
#define CGRAD_EXPORT_H

#if defined(CGRAD_BUILDING) && defined(__GNUC__)
#define CG_API __attribute__((visibility("default")))
#else
#define CG_API
#endif

#endif
