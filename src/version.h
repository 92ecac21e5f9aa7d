/* SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef CARTOFLASH_SRC_VERSION_H
#define CARTOFLASH_SRC_VERSION_H
#define CARTOFLASH_VERSION "0.1.0"
#endif
