/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The program's version: the Makefile passes it to main.c (git describe, else NEWS). */
#ifndef CARTOFLASH_SRC_VERSION_H
#define CARTOFLASH_SRC_VERSION_H
#ifndef CARTOFLASH_VERSION
#define CARTOFLASH_VERSION "unknown"
#endif
#endif
