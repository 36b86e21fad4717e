/* Decoding any audio FFmpeg reads to mono float32 at 16 kHz (cw_audio_load).
 *
 * The reference (openai-whisper audio.py load_audio) runs
 *   ffmpeg -nostdin -threads 0 -i FILE -f s16le -ac 1 -acodec pcm_s16le -ar 16000 -
 * and divides the int16 samples by 32768. That command decodes the best audio
 * stream and converts it with ONE libswresample context at default options
 * (the filter graph's auto-inserted aresample: format, layout and rate at
 * once) straight to s16 mono 16 kHz, flushing the resampler at the end. We do
 * the same, so the samples match the ffmpeg program's bit for bit. We also
 * pick the audio stream by the program's rule (pick_audio_stream).
 * Like the program, we skip packets the decoder rejects and keep what decodes
 * (a truncated file gives its decodable part); a file from which nothing
 * decodes fails. Decoding streams packet by packet: cw_audio_stream hands
 * each converted frame's samples to the caller as it comes (memory: one
 * frame), cw_audio_load collects them into one growing buffer.
 *
 * Path "-" reads raw s16le mono 16 kHz PCM from stdin.
 *
 * FFmpeg logs to stderr by default and its log level is process-global: the
 * library must never print, so the first cw_audio_load sets it to
 * AV_LOG_QUIET once (pthread_once). This is the one piece of global state we
 * touch; an application that wants FFmpeg's messages can raise the level
 * again after its first call. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef CW_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
#endif

#include "audio/audio.h"
#include "util/error.h"

/* ------------------------------------------------------------------------ */
/* Output: blocks of float samples to the caller's function                 */

typedef struct {
    cw_audio_block_fn fn;
    void *user;
    float *f;     /* [f_cap] one block converted to float */
    size_t f_cap;
    size_t total; /* samples handed over so far */
    const char *path;
    const cw_audio_limits *lim; /* never NULL */
    size_t max_samples;         /* lim->max_duration in samples, when > 0 */
} sink;

static cw_status over_duration(const sink *k, double seconds, const char *how)
{
    return cw_error(CW_ERR_LIMIT, "%s: %s%.1f s of audio is over the maximum duration of %g s", k->path, how,
                    seconds, k->lim->max_duration);
}

static cw_status sink_s16(sink *k, const int16_t *s, size_t count)
{
    if (count == 0) return CW_OK;
    if (k->lim->cancel && k->lim->cancel(k->lim->cancel_user))
        return cw_error(CW_ERR_CANCELLED, "%s: cancelled while decoding", k->path);
    if (k->lim->max_duration > 0 && k->total + count > k->max_samples)
        return over_duration(k, (double)(k->total + count) / CW_SAMPLE_RATE, "more than ");
    if (count > k->f_cap) {
        float *p = cw_realloc(k->f, count * sizeof *p);
        if (!p) return CW_ERR_NOMEM;
        k->f = p;
        k->f_cap = count;
    }
    for (size_t i = 0; i < count; i++) k->f[i] = (float)s[i] / 32768.0f;
    k->total += count;
    return k->fn(k->user, k->f, count);
}

/* cw_audio_load's block function: a growing buffer. */
typedef struct {
    float *data; /* [cap], the first n used */
    size_t n, cap;
} pcm_buf;

static cw_status pcm_append(void *user, const float *x, size_t count)
{
    pcm_buf *b = user;
    if (b->n + count > b->cap) {
        size_t cap = b->cap ? b->cap : 16000;
        while (cap < b->n + count) {
            if (cap > SIZE_MAX / 2 / sizeof(float)) return cw_error(CW_ERR_NOMEM, "audio too long");
            cap *= 2;
        }
        float *p = cw_realloc(b->data, cap * sizeof *p);
        if (!p) return CW_ERR_NOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->n, x, count * sizeof *x);
    b->n += count;
    return CW_OK;
}

/* ------------------------------------------------------------------------ */
/* stdin: raw s16le                                                          */

static cw_status stream_stdin(sink *k)
{
    unsigned char bytes[65536 + 1];
    int16_t s[32768];
    size_t have = 0; /* bytes in `bytes`, an odd one carried over */
    size_t got;
    long long read = 0;
    while ((got = fread(bytes + have, 1, sizeof bytes - 1 - have, stdin)) > 0) {
        have += got;
        read += (long long)got;
        if (k->lim->max_file_size > 0 && read > k->lim->max_file_size)
            return cw_error(CW_ERR_LIMIT, "- (stdin): more than %lld bytes, over the maximum file size",
                            k->lim->max_file_size);
        size_t count = have / 2;
        for (size_t i = 0; i < count; i++)
            s[i] = (int16_t)(uint16_t)(bytes[2 * i] | (unsigned)bytes[2 * i + 1] << 8);
        cw_status st = sink_s16(k, s, count);
        if (st != CW_OK) return st;
        if (have % 2) bytes[0] = bytes[have - 1];
        have %= 2;
    }
    if (ferror(stdin)) return cw_error(CW_ERR_IO, "-: cannot read stdin: %s", strerror(errno));
    if (k->total == 0) return cw_error(CW_ERR_AUDIO, "- (stdin): no audio samples");
    return CW_OK;
}

/* Before any decoder touches the file. */
static cw_status check_file(const char *path, const cw_audio_limits *lim)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return cw_error(CW_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cw_error(CW_ERR_IO, "%s: is a directory", path);
    /* A FIFO or device would block or never end (/dev/zero): files only;
     * "-" is the stream input. */
    if (!S_ISREG(sb.st_mode))
        return cw_error(CW_ERR_IO, "%s: not a regular file (%s); use '-' to stream raw PCM on stdin", path,
                        S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISCHR(sb.st_mode) ? "a character device"
                        : S_ISBLK(sb.st_mode) ? "a block device" : S_ISSOCK(sb.st_mode) ? "a socket" : "special");
    if (sb.st_size == 0) return cw_error(CW_ERR_AUDIO, "%s: empty file", path);
    if (lim->max_file_size > 0 && (long long)sb.st_size > lim->max_file_size)
        return cw_error(CW_ERR_LIMIT, "%s: %lld bytes is over the maximum file size of %lld bytes", path,
                        (long long)sb.st_size, lim->max_file_size);
    return CW_OK;
}

#ifdef CW_HAVE_FFMPEG
/* ------------------------------------------------------------------------ */
/* FFmpeg                                                                    */

typedef struct {
    const char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    /* the input format swr was built for */
    int in_rate, in_format;
    AVChannelLayout in_layout;
    int16_t *tmp; /* [tmp_cap] converted samples of one frame */
    size_t tmp_cap;
    sink *out;
    size_t bad_packets;
    int last_err;
} decoder;

static pthread_once_t g_quiet_once = PTHREAD_ONCE_INIT;
static void quiet_ffmpeg(void) { av_log_set_level(AV_LOG_QUIET); }

static cw_status av_fail(const char *path, int err, const char *what)
{
    char msg[AV_ERROR_MAX_STRING_SIZE] = { 0 };
    av_strerror(err, msg, sizeof msg);
    return cw_error(CW_ERR_AUDIO, "%s: %s: %s", path, what, msg);
}


/* max_duration against what the container states (before any decoding):
 * the file's duration, else the chosen stream's. Neither known: the sink's
 * sample count enforces the limit while decoding. */
static cw_status check_stated_duration(const AVFormatContext *fmt, int stream, const sink *k)
{
    if (k->lim->max_duration <= 0) return CW_OK;
    double secs = -1;
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
        secs = (double)fmt->duration / AV_TIME_BASE;
    } else {
        const AVStream *st = fmt->streams[stream];
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0) secs = (double)st->duration * av_q2d(st->time_base);
    }
    return secs > k->lim->max_duration ? over_duration(k, secs, "") : CW_OK;
}

/* The audio stream the ffmpeg program picks without -map (ffmpeg_opt.c,
 * open_output_file): the highest score of channel count + 1e8 if packets were
 * seen while probing + 5e6 if it has the default disposition; the first wins
 * ties. av_find_best_stream ranks differently and could pick another track. */
static int pick_audio_stream(const AVFormatContext *fmt)
{
    int best = -1;
    long long best_score = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        long long score = st->codecpar->ch_layout.nb_channels +
                          100000000LL * !!(st->event_flags & AVSTREAM_EVENT_FLAG_NEW_PACKETS) +
                          5000000LL * !!(st->disposition & AV_DISPOSITION_DEFAULT);
        if (score > best_score) {
            best_score = score;
            best = (int)i;
        }
    }
    return best;
}

static cw_status open_input(decoder *d)
{
    int err = avformat_open_input(&d->fmt, d->path, NULL, NULL);
    if (err < 0) return av_fail(d->path, err, "not a readable audio file");
    err = avformat_find_stream_info(d->fmt, NULL);
    if (err < 0) return av_fail(d->path, err, "cannot read stream information");
    d->stream = pick_audio_stream(d->fmt);
    if (d->stream < 0) return cw_error(CW_ERR_AUDIO, "%s: no audio stream", d->path);
    cw_status lim = check_stated_duration(d->fmt, d->stream, d->out);
    if (lim != CW_OK) return lim;
    AVStream *s = d->fmt->streams[d->stream];
    const AVCodec *codec = avcodec_find_decoder(s->codecpar->codec_id);
    if (!codec)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: no decoder for the audio codec '%s'", d->path,
                        avcodec_get_name(s->codecpar->codec_id));
    d->dec = avcodec_alloc_context3(codec);
    if (!d->dec) return cw_error(CW_ERR_NOMEM, "%s: out of memory", d->path);
    err = avcodec_parameters_to_context(d->dec, s->codecpar);
    if (err < 0) return av_fail(d->path, err, "bad codec parameters");
    d->dec->pkt_timebase = s->time_base;
    err = avcodec_open2(d->dec, codec, NULL);
    if (err < 0) return av_fail(d->path, err, "cannot open the decoder");
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->pkt || !d->frame) return cw_error(CW_ERR_NOMEM, "%s: out of memory", d->path);
    return CW_OK;
}

/* Converts swr's output for in_count input samples (0 with in == NULL: flush). */
static cw_status convert(decoder *d, const uint8_t **in, int in_count)
{
    for (;;) {
        int room = swr_get_out_samples(d->swr, in_count);
        if (room < 0) return av_fail(d->path, room, "resampler");
        if ((size_t)room + 1 > d->tmp_cap) {
            int16_t *t = cw_realloc(d->tmp, ((size_t)room + 1) * sizeof *t);
            if (!t) return CW_ERR_NOMEM;
            d->tmp = t;
            d->tmp_cap = (size_t)room + 1;
        }
        uint8_t *outp[1] = { (uint8_t *)d->tmp };
        int got = swr_convert(d->swr, outp, (int)d->tmp_cap, in, in_count);
        if (got < 0) return av_fail(d->path, got, "resampler");
        cw_status st = sink_s16(d->out, d->tmp, (size_t)got);
        if (st != CW_OK) return st;
        /* A flush may not fit in one call: repeat until it gives nothing. */
        if (in || got == 0) return CW_OK;
    }
}

/* (Re)builds the resampler for this frame's format: s16 mono 16 kHz out,
 * default options, as ffmpeg's auto-inserted aresample filter. */
static cw_status setup_swr(decoder *d, const AVFrame *f)
{
    /* A header can claim any rate; resampling 500 MHz to 16 kHz makes
     * swr_init compute a filter bank for minutes (found by fuzz_audio, a
     * 400-byte .au file). Real audio stays far below 1 MHz (DXD: 384 kHz). */
    if (f->sample_rate <= 0 || f->sample_rate > 1000000)
        return cw_error(CW_ERR_UNSUPPORTED, "%s: sample rate %d Hz is outside 1 Hz .. 1 MHz", d->path,
                        f->sample_rate);
    AVChannelLayout in_layout = { 0 };
    int err = av_channel_layout_copy(&in_layout, &f->ch_layout);
    if (err < 0) return av_fail(d->path, err, "channel layout");
    if (in_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        /* ffmpeg guesses the default layout for a bare channel count */
        int nb = in_layout.nb_channels;
        av_channel_layout_uninit(&in_layout);
        av_channel_layout_default(&in_layout, nb);
    }
    if (d->swr && f->sample_rate == d->in_rate && f->format == d->in_format &&
        av_channel_layout_compare(&in_layout, &d->in_layout) == 0) {
        av_channel_layout_uninit(&in_layout);
        return CW_OK;
    }
    if (d->swr) { /* the stream changed format: drain the old resampler first */
        cw_status st = convert(d, NULL, 0);
        if (st != CW_OK) {
            av_channel_layout_uninit(&in_layout);
            return st;
        }
        swr_free(&d->swr);
    }
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    err = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_S16, CW_SAMPLE_RATE, &in_layout,
                              (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
    if (err >= 0) err = swr_init(d->swr);
    av_channel_layout_uninit(&d->in_layout);
    d->in_layout = in_layout;
    d->in_rate = f->sample_rate;
    d->in_format = f->format;
    if (err < 0) return av_fail(d->path, err, "cannot set up the resampler");
    return CW_OK;
}

/* Takes every frame the decoder has ready. */
static cw_status drain_frames(decoder *d)
{
    for (;;) {
        int err = avcodec_receive_frame(d->dec, d->frame);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return CW_OK;
        if (err == AVERROR(ENOMEM)) return cw_error(CW_ERR_NOMEM, "%s: out of memory", d->path);
        if (err < 0) { /* a damaged frame: the ffmpeg program skips it too */
            d->bad_packets++;
            d->last_err = err;
            continue;
        }
        cw_status st = d->frame->nb_samples > 0 ? setup_swr(d, d->frame) : CW_OK;
        if (st == CW_OK && d->frame->nb_samples > 0)
            st = convert(d, (const uint8_t **)d->frame->extended_data, d->frame->nb_samples);
        av_frame_unref(d->frame);
        if (st != CW_OK) return st;
    }
}

static cw_status send(decoder *d, const AVPacket *pkt)
{
    int err = avcodec_send_packet(d->dec, pkt);
    if (err == AVERROR(ENOMEM)) return cw_error(CW_ERR_NOMEM, "%s: out of memory", d->path);
    if (err < 0 && err != AVERROR_EOF) {
        d->bad_packets++;
        d->last_err = err;
    }
    return drain_frames(d);
}

static cw_status decode_all(decoder *d)
{
    cw_status st = CW_OK;
    /* A read error other than EOF ends the input, as in the ffmpeg program. */
    while (st == CW_OK && av_read_frame(d->fmt, d->pkt) >= 0) {
        if (d->pkt->stream_index == d->stream) st = send(d, d->pkt);
        av_packet_unref(d->pkt);
    }
    if (st == CW_OK) st = send(d, NULL);
    if (st == CW_OK && d->swr) st = convert(d, NULL, 0);
    return st;
}

static void decoder_close(decoder *d)
{
    swr_free(&d->swr);
    av_channel_layout_uninit(&d->in_layout);
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->dec);
    avformat_close_input(&d->fmt);
    free(d->tmp);
}

static cw_status stream_file(const char *path, sink *k)
{
    cw_status st = check_file(path, k->lim);
    if (st != CW_OK) return st;
    pthread_once(&g_quiet_once, quiet_ffmpeg);
    decoder d = { .path = path, .stream = -1, .out = k };
    st = open_input(&d);
    if (st == CW_OK) st = decode_all(&d);
    if (st == CW_OK && k->total == 0 && d.bad_packets > 0) {
        av_fail(path, d.last_err, "no decodable audio");
        st = CW_ERR_AUDIO;
    }
    decoder_close(&d);
    if (st == CW_OK && k->total == 0) st = cw_error(CW_ERR_AUDIO, "%s: no audio samples", path);
    return st;
}

#else
/* ------------------------------------------------------------------------ */
/* Without FFmpeg (CW_FFMPEG=OFF: machines without its development files,
 * e.g. a lent GPU machine): 16 kHz mono 16-bit PCM WAV only, the format
 * FFmpeg would pass through unchanged, so the samples are the same.         */

static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static cw_status stream_file(const char *path, sink *k)
{
    cw_status chk = check_file(path, k->lim);
    if (chk != CW_OK) return chk;
    FILE *f = fopen(path, "rb");
    if (!f) return cw_error(CW_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char h[12], c[8], fmt[16];
    cw_status st = CW_OK;
    int have_fmt = 0;
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
        st = cw_error(CW_ERR_AUDIO, "%s: not a WAV file, and this cwhisper was built without FFmpeg", path);
    }
    while (st == CW_OK && fread(c, 1, 8, f) == 8) {
        uint32_t n = le32(c + 4);
        if (!memcmp(c, "fmt ", 4) && n >= 16) {
            if (fread(fmt, 1, 16, f) != 16 || fseek(f, (long)(n - 16 + n % 2), SEEK_CUR)) break;
            /* PCM (1) or WAVE_FORMAT_EXTENSIBLE (0xfffe), 1 channel, 16000 Hz, 16 bits */
            unsigned tag = fmt[0] | fmt[1] << 8, ch = fmt[2] | fmt[3] << 8, bits = fmt[14] | fmt[15] << 8;
            if ((tag != 1 && tag != 0xfffe) || ch != 1 || le32(fmt + 4) != CW_SAMPLE_RATE || bits != 16)
                st = cw_error(CW_ERR_AUDIO, "%s: WAV of format %u, %u channel(s), %u Hz, %u bits: this cwhisper "
                              "was built without FFmpeg and reads 16 kHz mono 16-bit PCM only", path, tag, ch,
                              (unsigned)le32(fmt + 4), bits);
            have_fmt = 1;
        } else if (!memcmp(c, "data", 4)) {
            if (!have_fmt) break;
            unsigned char bytes[65536];
            int16_t smp[32768];
            size_t left = n / 2 * 2, got;
            while (st == CW_OK && left && (got = fread(bytes, 1, left < sizeof bytes ? left : sizeof bytes, f)) >= 2) {
                size_t count = got / 2;
                for (size_t i = 0; i < count; i++) smp[i] = (int16_t)(uint16_t)(bytes[2 * i] | (unsigned)bytes[2 * i + 1] << 8);
                st = sink_s16(k, smp, count);
                left -= count * 2;
                if (got % 2) break;
            }
            break;
        } else if (fseek(f, (long)(n + n % 2), SEEK_CUR)) {
            break;
        }
    }
    fclose(f);
    if (st == CW_OK && k->total == 0) st = cw_error(CW_ERR_AUDIO, "%s: no audio samples", path);
    return st;
}
#endif

cw_status cw_audio_stream(const char *path, cw_audio_block_fn fn, void *user, size_t *n_samples)
{
    return cw_audio_stream_limited(path, NULL, fn, user, n_samples);
}

cw_status cw_audio_stream_limited(const char *path, const cw_audio_limits *limits, cw_audio_block_fn fn,
                                  void *user, size_t *n_samples)
{
    static const cw_audio_limits none = { 0 };
    if (n_samples) *n_samples = 0;
    if (!path || !fn) return cw_error(CW_ERR_INVALID_ARG, "cw_audio_stream: NULL path or function");
    const cw_audio_limits *lim = limits ? limits : &none;
    if (!(lim->max_duration >= 0 && lim->max_duration < 1e12))
        return cw_error(CW_ERR_INVALID_ARG, "maximum duration %g s is out of range", lim->max_duration);
    sink k = { .fn = fn, .user = user, .path = strcmp(path, "-") == 0 ? "- (stdin)" : path, .lim = lim };
    if (lim->max_duration > 0) k.max_samples = (size_t)(lim->max_duration * CW_SAMPLE_RATE);
    cw_status st = strcmp(path, "-") == 0 ? stream_stdin(&k) : stream_file(path, &k);
    free(k.f);
    if (st == CW_OK && n_samples) *n_samples = k.total;
    return st;
}

cw_status cw_audio_load(const char *path, float **samples, size_t *n_samples)
{
    return cw_audio_load_limited(path, NULL, samples, n_samples);
}

cw_status cw_audio_load_limited(const char *path, const cw_audio_limits *limits, float **samples, size_t *n_samples)
{
    if (!samples || !n_samples) return cw_error(CW_ERR_INVALID_ARG, "cw_audio_load: NULL output");
    *samples = NULL;
    *n_samples = 0;
    if (!path) return cw_error(CW_ERR_INVALID_ARG, "cw_audio_load: NULL path");
    pcm_buf b = { 0 };
    cw_status st = cw_audio_stream_limited(path, limits, pcm_append, &b, NULL);
    if (st != CW_OK) {
        free(b.data);
        return st;
    }
    float *p = realloc(b.data, b.n * sizeof *p);
    *samples = p ? p : b.data; /* a failed shrink keeps the larger block */
    *n_samples = b.n;
    return CW_OK;
}
