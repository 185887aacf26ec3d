/* Native floors of a float32 softmax-like kernel on the machine it runs on: streaming read,
 * float32 copy with normal and with non-temporal stores (256 MB arrays), and a degree-6 vector
 * exp + sum with the data in L1, on 1 and 2 threads. Best of 7. (`python -m pysoftmax bench`
 * measures its own floors, NumPy's copy and read, in each run: pysoftmax/bench/floors.py.)
 *   gcc -O3 -mavx2 -mfma -fopenmp bench/floors.c -o /tmp/floors && /tmp/floors
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static double now(void){return omp_get_wtime();}
#define N (64u<<20)  /* 64M floats = 256 MB */
int main(void){
  float *x=aligned_alloc(64,N*4),*y=aligned_alloc(64,N*4);
  #pragma omp parallel for
  for(size_t i=0;i<N;i++){x[i]=(float)(i%1000)*1e-3f;y[i]=0;}
  for(int th=1;th<=2;th++){
    omp_set_num_threads(th);
    double best_r=1e9,best_c=1e9,best_nt=1e9; volatile float sink=0;
    for(int rep=0;rep<7;rep++){
      double t=now(); float s=0;
      #pragma omp parallel for reduction(+:s)
      for(size_t i=0;i<N;i+=8){__m256 v=_mm256_load_ps(x+i); s+=_mm256_cvtss_f32(v)+((float*)&v)[7];}
      t=now()-t; sink+=s; if(t<best_r)best_r=t;
      t=now();
      #pragma omp parallel for
      for(size_t i=0;i<N;i+=8){_mm256_store_ps(y+i,_mm256_add_ps(_mm256_load_ps(x+i),_mm256_load_ps(x+i)));}
      t=now()-t; if(t<best_c)best_c=t;
      t=now();
      #pragma omp parallel for
      for(size_t i=0;i<N;i+=8){_mm256_stream_ps(y+i,_mm256_add_ps(_mm256_load_ps(x+i),_mm256_load_ps(x+i)));}
      _mm_sfence(); t=now()-t; if(t<best_nt)best_nt=t;
    }
    /* exp + sum, in L1: 4096 floats per thread, degree-6 polynomial */
    double best_e=1e9;
    for(int rep=0;rep<7;rep++){
      double t=now(); float tot=0; const size_t M=4096, R=20000;
      #pragma omp parallel reduction(+:tot)
      { float *a=x+omp_get_thread_num()*M*4; __m256 acc=_mm256_setzero_ps();
        for(size_t r=0;r<R;r++) for(size_t i=0;i<M;i+=8){
          __m256 v=_mm256_sub_ps(_mm256_load_ps(a+i),_mm256_set1_ps(1.0f));
          __m256 n=_mm256_round_ps(_mm256_mul_ps(v,_mm256_set1_ps(1.442695f)),8);
          __m256 f=_mm256_fnmadd_ps(n,_mm256_set1_ps(0.693145752f),v);
          f=_mm256_fnmadd_ps(n,_mm256_set1_ps(1.42860677e-6f),f);
          __m256 p=_mm256_set1_ps(1.0f/720);
          p=_mm256_fmadd_ps(p,f,_mm256_set1_ps(1.0f/120));p=_mm256_fmadd_ps(p,f,_mm256_set1_ps(1.0f/24));
          p=_mm256_fmadd_ps(p,f,_mm256_set1_ps(1.0f/6));p=_mm256_fmadd_ps(p,f,_mm256_set1_ps(0.5f));
          p=_mm256_fmadd_ps(p,_mm256_mul_ps(f,f),_mm256_add_ps(f,_mm256_set1_ps(1.0f)));
          __m256i e=_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),_mm256_set1_epi32(127)),23);
          acc=_mm256_fmadd_ps(p,_mm256_castsi256_ps(e),acc);}
        float b[8]; _mm256_storeu_ps(b,acc); for(int j=0;j<8;j++) tot+=b[j]; }
      t=now()-t; sink+=tot; double el=(double)M*R*th; if(t/el<best_e)best_e=t/el;
    }
    printf("%d thread(s): read %.1f GB/s; copy %.2f G el/s (%.3f ns/el); NT copy %.2f G el/s (%.3f ns/el); exp+sum L1 %.2f G el/s (%.3f ns/el)\n",
      th, N*4/best_r/1e9, N/best_c/1e9, best_c/N*1e9, N/best_nt/1e9, best_nt/N*1e9, 1/best_e/1e9, best_e*1e9);
  }
  return 0;
}
