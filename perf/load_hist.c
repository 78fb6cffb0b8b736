/* perf/load_hist.c: rw-load's log-linear latency histogram (HDR-like, ns):
 * 128 linear sub-buckets per power of two, so every percentile is within 1 %. */
#include "load.h"

static unsigned hist_index(uint64_t v)
{
	if (v < 2 * H_SUB)
		return (unsigned)v;
	unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - H_SUB_BITS;
	return (shift + 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

/* The highest value that falls into bucket idx. */
static uint64_t hist_upper(unsigned idx)
{
	if (idx < 2 * H_SUB)
		return idx;
	unsigned shift = idx / H_SUB - 1;
	uint64_t base = (uint64_t)(idx % H_SUB + H_SUB) << shift;
	return base + ((uint64_t)1 << shift) - 1;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

uint64_t hist_pct(const struct hist *h, double pct)
{
	if (!h->count)
		return 0;
	uint64_t want = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
	uint64_t seen = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want && seen)
			return hist_upper(i) < h->max ? hist_upper(i) : h->max;
	}
	return h->max;
}
