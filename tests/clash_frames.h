/*
 * clash_frames.h - frames larger than any guard, built with
 * -fstack-clash-protection (clash_frames.c).
 */
#ifndef CORO_CLASH_FRAMES_H
#define CORO_CLASH_FRAMES_H

/* 1 if the compiler really probes large frames on this target. */
extern const int clash_frames_probed;

/* Runs a 1 MiB frame (which 0) or a 16 MiB one (which 1). */
int clash_frame(int which);

#endif
