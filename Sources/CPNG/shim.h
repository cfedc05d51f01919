// libpng 1.6 (Debian libpng-dev), used through its simplified png_image API, which reports errors in the struct
// instead of through longjmp.
#include <png.h>

static inline png_uint_32 zoo_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 zoo_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 zoo_png_image_version(void) { return PNG_IMAGE_VERSION; }
static inline png_uint_32 zoo_png_format_flag_color(void) { return PNG_FORMAT_FLAG_COLOR; }
static inline png_uint_32 zoo_png_format_flag_alpha(void) { return PNG_FORMAT_FLAG_ALPHA; }
