/* A ready network for the search: weights bound to a back end, an encoder and
 * a decoder sized for a batch, exposed as src/decode/'s cw_encoder_net and
 * cw_decoder_net. */
#ifndef CW_NN_NET_H
#define CW_NN_NET_H

#include "decode/decode.h"
#include "nn/nn.h"

typedef struct {
    cw_nn_weights *weights;
    cw_encoder *enc;
    cw_decoder *dec;
    size_t max_seq;
    size_t *seq_audio;       /* [max_seq] scratch: window of each sequence */
    cw_encoder_net encoder;  /* ctx = this */
    cw_decoder_net decoder;  /* ctx = this */
    const int32_t *align_heads; /* the model's (layer, head) pairs, borrowed */
    /* lockstep (cw_net_enable_slots): slots over dec, and a side decoder
     * of side_seq sequences and one window for the rest */
    cw_decoder *side;
    size_t side_seq;
    size_t *side_seq_audio;  /* [side_seq] zeros */
    cw_decoder_item *items;  /* [max_seq] scratch */
    cw_decoder_net side_net; /* ctx = this */
    cw_slot_net slots;       /* ctx = this */
} cw_net;

/* max_audio windows per encoder batch, max_seq decoder sequences (beams,
 * best_of samples, or windows of a batch). */
cw_status cw_net_create(cw_backend *be, const cw_model *model, size_t max_audio, size_t max_seq,
                        cw_net **out);
/* The same with the weights in a compute dtype (cw_nn_weights_create_dtype). */
cw_status cw_net_create_dtype(cw_backend *be, const cw_model *model, cw_compute_dtype dtype,
                              size_t max_audio, size_t max_seq, cw_net **out);
/* Re-sizes n's encoder and decoder for a larger batch, keeping its weights
 * (their conversion to the compute dtype is the costly part). On failure n
 * has no encoder or decoder and must be freed. */
cw_status cw_net_resize(cw_net *n, size_t max_audio, size_t max_seq);
/* Readies n->slots (n->max_seq slots) with a side decoder of side_seq
 * sequences (beams, best_of); again after cw_net_resize. */
cw_status cw_net_enable_slots(cw_net *n, size_t side_seq);
void cw_net_free(cw_net *n);

#endif
