/*
 * driver.h - the benchmark driver's own types, shared by main.c (rows,
 * rounds, statistics), spawn.c (peer processes, instruction and system
 * call counts, memory) and report.c (the table, goals, JSON, chart data).
 */
#ifndef BENCH_DRIVER_H
#define BENCH_DRIVER_H

#include <stdio.h>

#include "bench.h"

#define MAX_ROUNDS 101

/* An in-process sample is taken in this many slices, the rows of a figure
 * taking turns slice by slice. */
#define SLICES 8

/* Loop lengths of the two runs whose difference gives a count per
 * operation; coro's fresh-stack create (3 system calls each) runs shorter. */
#define COUNT_N1 2000L
#define COUNT_N2 10000L
#define COUNT_N2_SLOW 4000L

/* The timed figures, in the table's order. */
enum {
    FIG_ROUNDTRIP,
    FIG_LIFECYCLE,
    FIG_WRAP,
    FIG_VALUE,
    FIG_SPAWN, /* the runtime's, from here */
    FIG_CHAN,
    FIG_BCHAN,
    FIG_SELECT,
    FIG_SLEEP,
    NFIGS
};

typedef struct figure {
    const char *key;   /* BENCH_FIG_* */
    const char *title; /* the table's heading */
} figure;
extern const figure figures[NFIGS];

/* Where a row's operation comes from. */
typedef enum source {
    SRC_CORO,   /* ops_coro.c, in the driver's process */
    SRC_FLOOR,  /* floor.c, in the driver's process */
    SRC_BOOST,  /* peer_boost.so, loaded into the driver's process */
    SRC_PCL,    /* peer_pcl.so, likewise */
    SRC_SELF,   /* ops_coro.c, in a process of its own (it spoils state) */
    SRC_LUA,    /* lua5.4 peer.lua, a process per sample */
    SRC_LUAJIT, /* luajit peer.lua */
    SRC_GO,     /* the built peer_go, GOMAXPROCS=1 */
    NSOURCES
} source;

/* One row of a figure: an implementation and what was measured of it. */
typedef struct row {
    int fig;           /* FIG_* */
    const char *key;   /* the op's name in its source */
    const char *label; /* as shown in the table */
    source src;
    int subject;           /* 1 for coro's row, the one ratios are of */
    int optional;          /* left out when this build lacks the operation */
    const char *na;        /* why there are no figures, or NULL */
    double (*run)(long n); /* in-process sources */
    long n;                /* operations per sample (calibrated) */
    int nsamples;
    double ns[MAX_ROUNDS]; /* ns per operation, one per round; NAN if failed */
    double med, lo, hi;    /* over the rounds */
    double rmed, rlo, rhi; /* subject / this, per round; NAN if none */
    double instr;          /* instructions per operation; NAN if n/a */
    double sys;            /* system calls per operation; NAN if n/a */
} row;

/* Memory: one line of figure (3), or of (11) with BENCH_MEM_TASK in flags. */
typedef struct mem_row {
    const char *label;
    source src;
    unsigned flags; /* coro_options flags for coro's rows */
    long asked, reached;
    double per;       /* resident bytes per suspended coroutine; NAN if n/a */
    double heap;      /* of which heap (coro only); NAN if unknown */
    int err;          /* coro's error when it stopped early, else 0 */
    const char *note; /* n/a reason, or NULL */
} mem_row;

/* The run's settings and environment. */
typedef struct config {
    const char *self;   /* the driver's own executable */
    const char *bindir; /* where peer_*.so and peer_go are */
    char *script;       /* bench/peer.lua */
    char *gobin;        /* bindir/peer_go */
    const char *json;   /* write the figures here, or NULL */
    const char *md;     /* write the table here too, or NULL */
    const char *dat;    /* write gnuplot's data here, or NULL */
    int rounds;
    double target_ms;              /* the time one sample should take */
    int cpu;                       /* pinned to this CPU */
    int counts;                    /* count instructions and system calls */
    const char *counter;           /* "perf stat", "callgrind" or NULL */
    const char *version[NSOURCES]; /* of each peer, or NULL */
    char machine[128];
    char date[64];
    long page;
    long max_map_count;
} config;

/* spawn.c */
int spawn_capture(char *const argv[], int want_stderr, double timeout_s, char *out, size_t cap);
void build_argv(const config *cf, const row *r, long n, const char **argv, char *nbuf);
double external_sample(const config *cf, const row *r, long n);
const char *probe_counter(void);
double count_instructions(const config *cf, const row *r, long n1, long n2);
double count_syscalls(const config *cf, const row *r, long n1, long n2);
void measure_memory(const config *cf, mem_row *m);
void describe_machine(config *cf);
void pin(config *cf);

/* report.c */
void report_table(FILE *out, const config *cf, row *rows, int nrows, mem_row *mem, int nmem);
int report_json(const config *cf, row *rows, int nrows, mem_row *mem, int nmem);
int report_dat(const config *cf, row *rows, int nrows, mem_row *mem, int nmem);

#endif /* BENCH_DRIVER_H */
