/* One encoder window and 20 decoder steps of 5 beams on a real model,
 * with the AVX2 and the AVX-512 kernel tables, interleaved, best of R runs
 * of process CPU time (less disturbed by other load than wall time; at 1
 * thread it is the op's time). Needs the library built (make, at the root).
 *   make bench_isa_model && ./bench_isa_model ../../models/base 1 3 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend/backend.h"
#include "model/model.h"
#include "nn/nn.h"
#include "util/error.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){
  if(argc<4){fprintf(stderr,"usage: %s MODEL_DIR THREADS REPS\n",argv[0]);return 2;}
  const char*path=argv[1]; int nth=atoi(argv[2]); int reps=atoi(argv[3]);
  cw_model_params mp=cw_model_default_params(); cw_model*model;
  if(cw_model_load(path,&mp,&model)){fprintf(stderr,"%s\n",cw_last_error());return 1;}
  size_t nm=(size_t)model->dims.n_mels; float*mel=malloc(nm*3000*4); for(size_t i=0;i<nm*3000;i++)mel[i]=(float)((i*2654435761u)%1000)/1000.0f-0.5f;
  cw_isa isas[2]={CW_ISA_AVX2,CW_ISA_AVX512}; cw_backend*be[2]; cw_nn_weights*w[2]; cw_encoder*enc[2]; cw_decoder*dec[2];
  for(int i=0;i<2;i++){cw_backend_params bp=cw_backend_default_params();bp.isa=isas[i];bp.n_threads=nth;
    if(cw_backend_create(&bp,&be[i])||cw_nn_weights_create(be[i],model,&w[i])||cw_encoder_create(w[i],1,&enc[i])||cw_decoder_create(w[i],5,1,&dec[i])){fprintf(stderr,"%s\n",cw_last_error());return 1;}}
  size_t nv=(size_t)model->dims.n_vocab; float*logits=malloc(5*nv*4);
  double be_[2]={1e9,1e9}, bd[2]={1e9,1e9};
  for(int r=0;r<reps;r++)for(int i=0;i<2;i++){
    double t0=now(); cw_encoder_run(enc[i],mel,1); double t=now()-t0; if(t<be_[i])be_[i]=t;
    cw_decoder_set_audio(dec[i],cw_encoder_output(enc[i]),1); cw_decoder_reset(dec[i],5,NULL);
    int32_t tok[5*3]={50258,50259,50359,50258,50259,50359,50258,50259,50359,50258,50259,50359,50258,50259,50359};
    cw_decoder_forward(dec[i],tok,5,3,logits,-1,NULL);
    t0=now(); for(int s=0;s<20;s++){int32_t tk[5]={440+s,441+s,442+s,443,444}; cw_decoder_forward(dec[i],tk,5,1,logits,-1,NULL);} t=(now()-t0)/20; if(t<bd[i])bd[i]=t;
  }
  printf("%s thr%d: encoder avx2 %.1f ms avx512 %.1f ms | decoder step (5 beams) avx2 %.2f ms avx512 %.2f ms  (CPU time, best of %d)\n",path,nth,be_[0]*1e3,be_[1]*1e3,bd[0]*1e3,bd[1]*1e3,reps);
  for(int i=0;i<2;i++){cw_decoder_free(dec[i]);cw_encoder_free(enc[i]);cw_nn_weights_free(w[i]);cw_backend_free(be[i]);}
  cw_model_free(model); free(mel); free(logits);
  return 0;}
