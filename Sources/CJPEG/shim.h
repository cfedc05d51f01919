// libjpeg-turbo (Debian libjpeg62-turbo-dev). libjpeg reports errors by calling error_exit, which by default ends the
// process; Swift cannot setjmp, so the whole decode runs here in C and a failure comes back as a message.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

struct zoo_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void zoo_jpeg_error_exit(j_common_ptr info) {
    struct zoo_jpeg_error *error = (struct zoo_jpeg_error *)info->err;
    error->manager.format_message(info, error->message);
    longjmp(error->jump, 1);
}

static void zoo_jpeg_silence(j_common_ptr info, int level) { (void)info; (void)level; }

/// libjpeg's error manager, changed to jump back with a message instead of exiting and to keep warnings quiet.
static inline struct jpeg_error_mgr *zoo_jpeg_errors(struct zoo_jpeg_error *error) {
    memset(error, 0, sizeof *error);
    struct jpeg_error_mgr *manager = jpeg_std_error(&error->manager);
    manager->error_exit = zoo_jpeg_error_exit;
    manager->emit_message = zoo_jpeg_silence;
    return manager;
}

/// Decodes a JPEG held in memory to 8-bit grayscale (1 channel) or RGB (3 channels; CMYK and YCCK are converted
/// by libjpeg to RGB where it can). Refuses images above `max_pixels`. On success returns a malloc'd buffer the
/// caller frees; on failure returns NULL and writes a message.
static inline unsigned char *zoo_jpeg_decode(const unsigned char *data, unsigned long size, unsigned long max_pixels,
                                             int *width, int *height, int *channels, char *message, size_t message_size) {
    struct jpeg_decompress_struct info;
    struct zoo_jpeg_error error;
    unsigned char *volatile pixels = NULL;
    memset(&info, 0, sizeof info);
    info.err = zoo_jpeg_errors(&error);
    if (setjmp(error.jump)) {
        snprintf(message, message_size, "%s", error.message);
        jpeg_destroy_decompress(&info);
        free(pixels);
        return NULL;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = info.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    if ((unsigned long)info.output_width * info.output_height > max_pixels) {
        snprintf(message, message_size, "the image is %ux%u, more than the %lu pixels allowed",
                 info.output_width, info.output_height, max_pixels);
        jpeg_destroy_decompress(&info);
        return NULL;
    }
    size_t stride = (size_t)info.output_width * info.output_components;
    pixels = malloc(stride * info.output_height);
    if (!pixels) {
        snprintf(message, message_size, "out of memory");
        jpeg_destroy_decompress(&info);
        return NULL;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = info.output_components;
    jpeg_destroy_decompress(&info);
    return pixels;
}

/// Encodes 8-bit grayscale or RGB pixels as a JPEG; returns a malloc'd buffer (caller frees) or NULL with a message.
static inline unsigned char *zoo_jpeg_encode(const unsigned char *pixels, int width, int height, int channels,
                                             int quality, unsigned long *size, char *message, size_t message_size) {
    struct jpeg_compress_struct info;
    struct zoo_jpeg_error error;
    unsigned char *output = NULL;
    unsigned long output_size = 0;
    memset(&info, 0, sizeof info);
    info.err = zoo_jpeg_errors(&error);
    if (setjmp(error.jump)) {
        snprintf(message, message_size, "%s", error.message);
        jpeg_destroy_compress(&info);
        free(output);
        return NULL;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &output, &output_size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = channels;
    info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * channels;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * info.next_scanline);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *size = output_size;
    return output;
}
