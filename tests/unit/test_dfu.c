// SPDX-License-Identifier: GPL-3.0-or-later
// protocol/dfu: every byte vector of dfu.md, plus files made by dfu-util 0.11's own tools.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "protocol/dfu.h"
#include "protocol/err.h"

/* dfu.md §2.3 / §2.4: setup packets of dfu-util's wire trace, "bmRequestType bRequest wValue
 * wIndex wLength" rewritten as the 8 little-endian wire bytes. */
static const struct setup_case {
	const char *name;
	enum dfu_request req;
	uint16_t value, length;
	uint8_t wire[8];
} setup_cases[] = {
	{ "§2.3 GETSTATUS a1 03 0000 0000 0006", DFU_REQ_GETSTATUS, 0, 6,
	  { 0xa1, 0x03, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00 } },
	{ "§2.3 DNLOAD command 21 01 0000 0000 0005", DFU_REQ_DNLOAD, 0, 5,
	  { 0x21, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00 } },
	{ "§2.3 DNLOAD block 2 21 01 0002 0000 0800", DFU_REQ_DNLOAD, 2, 0x800,
	  { 0x21, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x08 } },
	{ "§2.3 last chunk 21 01 0002 0000 0770", DFU_REQ_DNLOAD, 2, 0x770,
	  { 0x21, 0x01, 0x02, 0x00, 0x00, 0x00, 0x70, 0x07 } },
	{ "§2.3 ABORT 21 06 0000 0000 0000", DFU_REQ_ABORT, 0, 0,
	  { 0x21, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 } },
	{ "§2.3 leave 21 01 0002 0000 0000", DFU_REQ_DNLOAD, 2, 0,
	  { 0x21, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 } },
	{ "§2.4 UPLOAD a1 02 0002 0000 0800", DFU_REQ_UPLOAD, 2, 0x800,
	  { 0xa1, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x08 } },
	{ "§2.4 UPLOAD a1 02 000a 0000 0710", DFU_REQ_UPLOAD, 10, 0x710,
	  { 0xa1, 0x02, 0x0a, 0x00, 0x00, 0x00, 0x10, 0x07 } },
	{ "§1.2 CLRSTATUS 0x21 4", DFU_REQ_CLRSTATUS, 0, 0,
	  { 0x21, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 } },
	{ "§1.2 GETSTATE 0xA1 5", DFU_REQ_GETSTATE, 0, 1,
	  { 0xa1, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00 } },
	{ "§1.2 DETACH 0x21 0 wTimeout", DFU_REQ_DETACH, 255, 0,
	  { 0x21, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00 } },
};

static void test_dfu_setup_packets_match_wire_trace(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(setup_cases) / sizeof(setup_cases[0]); i++) {
		const struct setup_case *c = &setup_cases[i];
		uint8_t out[8];
		struct dfu_setup s;

		dfu_build_setup(out, c->req, c->value, 0, c->length);
		if (memcmp(out, c->wire, 8))
			fail_msg("%s: encoded bytes differ", c->name);
		dfu_parse_setup(c->wire, &s);
		assert_int_equal(s.request, c->req);
		assert_int_equal(s.value, c->value);
		assert_int_equal(s.length, c->length);
		assert_int_equal(s.index, 0);
	}
}

static void test_dfu_status_idle_ok_vector(void **state)
{
	/* §2.3: "→ 00 000000 02 00" GETSTATUS: OK, dfuIDLE. */
	static const uint8_t wire[6] = { 0x00, 0x00, 0x00, 0x00, 0x02, 0x00 };
	struct dfu_status_record st;
	(void)state;

	assert_int_equal(dfu_parse_status(wire, 6, &st), CF_OK);

	assert_int_equal(st.status, DFU_STATUS_OK);
	assert_int_equal(st.state, DFU_STATE_IDLE);
	assert_int_equal(st.poll_timeout_ms, 0);
	assert_string_equal(dfu_state_name(st.state), "dfuIDLE");
}

static void test_dfu_status_poll_timeout_is_24bit_le(void **state)
{
	/* §1.3: [1..3] bwPollTimeout 24-bit little-endian; busy with 0x012345 ms, errVENDOR. */
	static const uint8_t wire[6] = { 0x0b, 0x45, 0x23, 0x01, 0x04, 0x07 };
	struct dfu_status_record st;
	uint8_t out[6];
	(void)state;

	assert_int_equal(dfu_parse_status(wire, 6, &st), CF_OK);
	assert_int_equal(st.poll_timeout_ms, 0x012345);
	assert_int_equal(st.state, DFU_STATE_DNBUSY);
	assert_int_equal(st.istring, 7);
	assert_string_equal(dfu_status_name(st.status), "errVENDOR");
	dfu_build_status(out, &st);
	assert_memory_equal(out, wire, 6);
	assert_int_equal(dfu_parse_status(wire, 5, &st), CF_ERR_FRAME);
}

static void test_dfu_state_and_status_names(void **state)
{
	(void)state;
	assert_string_equal(dfu_state_name(4), "dfuDNBUSY");
	assert_string_equal(dfu_state_name(5), "dfuDNLOAD-IDLE");
	assert_string_equal(dfu_state_name(7), "dfuMANIFEST");
	assert_string_equal(dfu_state_name(10), "dfuERROR");
	assert_string_equal(dfu_state_name(11), "unknown");
	assert_string_equal(dfu_status_name(0x01), "errTARGET");
	assert_string_equal(dfu_status_name(0x0F), "errSTALLEDPKT");
	assert_string_equal(dfu_status_name(0x10), "unknown");
	assert_string_equal(dfu_status_text(0x0B), "read protection is active");
}

static void test_dfu_functional_descriptor_f4_rom(void **state)
{
	/* §1.1: F407 ROM functional descriptor 09 21 0b ff 00 00 08 1a 01, behind an interface
	 * descriptor as in libusb's `extra` chain. */
	static const uint8_t chain[] = { 0x09, 0x04, 0x00, 0x03, 0x00, 0xfe, 0x01, 0x02, 0x07,
					 0x09, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x08, 0x1a, 0x01 };
	static const uint8_t dfu10[] = { 0x07, 0x21, 0x03, 0x10, 0x00, 0x40, 0x00 };
	static const uint8_t broken[] = { 0x09, 0x21, 0x0b };
	struct dfu_functional fd;
	(void)state;

	assert_int_equal(dfu_find_functional(chain, sizeof(chain), &fd), CF_OK);
	assert_int_equal(fd.attributes, 0x0b);
	assert_int_equal(fd.detach_timeout_ms, 255);
	assert_int_equal(fd.transfer_size, 2048);
	assert_int_equal(fd.bcd_dfu, DFU_BCD_DFUSE);
	assert_int_equal(dfu_find_functional(dfu10, sizeof(dfu10), &fd), CF_OK);
	assert_int_equal(fd.transfer_size, 64);
	assert_int_equal(fd.bcd_dfu, 0x0100);
	assert_int_equal(dfu_find_functional(broken, sizeof(broken), &fd), CF_ERR_FRAME);
	assert_int_equal(dfu_find_functional(chain, 9, &fd), CF_ERR_FRAME);
}

static void test_dfuse_commands_bytes(void **state)
{
	uint8_t out[5];
	(void)state;

	/* §2.3: erase @0x08000000 = 41 00 00 00 08; SET_ADDRESS 0x08000000 = 21 00 00 00 08. */
	assert_int_equal(dfuse_build_erase_page(out, 0x08000000), 5);
	assert_memory_equal(out, ((uint8_t[]){ 0x41, 0x00, 0x00, 0x00, 0x08 }), 5);
	assert_int_equal(dfuse_build_set_address(out, 0x08000000), 5);
	assert_memory_equal(out, ((uint8_t[]){ 0x21, 0x00, 0x00, 0x00, 0x08 }), 5);
	assert_int_equal(dfuse_build_set_address(out, 0x08000800), 5);
	assert_memory_equal(out, ((uint8_t[]){ 0x21, 0x00, 0x08, 0x00, 0x08 }), 5);
	/* §2.1: mass erase = 41 alone, read unprotect = 92. */
	assert_int_equal(dfuse_build_mass_erase(out), 1);
	assert_int_equal(out[0], 0x41);
	assert_int_equal(dfuse_build_read_unprotect(out), 1);
	assert_int_equal(out[0], 0x92);
}

static void test_dfuse_parse_command_rejects_unknown(void **state)
{
	static const uint8_t erase[] = { 0x41, 0x00, 0x10, 0x00, 0x08 };
	static const uint8_t mass[] = { 0x41 };
	static const uint8_t unprot[] = { 0x92 };
	static const uint8_t unknown[] = { 0x55 };
	static const uint8_t short_addr[] = { 0x21, 0x00, 0x00 };
	struct dfuse_command cmd;
	(void)state;

	assert_int_equal(dfuse_parse_command(erase, 5, &cmd), CF_OK);
	assert_int_equal(cmd.kind, DFUSE_ERASE_PAGE);
	assert_int_equal(cmd.address, 0x08001000);
	assert_int_equal(dfuse_parse_command(mass, 1, &cmd), CF_OK);
	assert_int_equal(cmd.kind, DFUSE_MASS_ERASE);
	assert_int_equal(dfuse_parse_command(unprot, 1, &cmd), CF_OK);
	assert_int_equal(cmd.kind, DFUSE_READ_UNPROTECT);
	assert_int_equal(dfuse_parse_command(unknown, 1, &cmd), CF_ERR_FRAME);
	assert_int_equal(dfuse_parse_command(short_addr, 3, &cmd), CF_ERR_FRAME);
	assert_int_equal(dfuse_parse_command(erase, 0, &cmd), CF_ERR_FRAME);
}

static void test_dfuse_block_address_uses_fixed_transfer_size(void **state)
{
	uint32_t a;
	(void)state;

	/* §2.4: upload of 18192 bytes at 0x08000000 ends with block 10 (8 × 2048 in). */
	assert_int_equal(dfuse_block_address(0x08000000, 10, 2048, &a), CF_OK);
	assert_int_equal(a, 0x08004000);
	assert_int_equal(dfuse_block_address(0x08002000, 2, 2048, &a), CF_OK);
	assert_int_equal(a, 0x08002000);
	assert_int_equal(dfuse_block_address(0x08000000, 1, 2048, &a), CF_ERR_FRAME);
	assert_int_equal(dfuse_block_address(0xFFFFF800, 3, 2048, &a), CF_ERR_FRAME);
}

struct layout_case {
	const char *name;
	const char *text;
	int want;
	size_t count;
	struct dfu_segment seg[3];
	const char *alt_name;
};

static const struct layout_case layout_cases[] = {
	{ "§1.1 F4 flash", "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", CF_OK, 3,
	  { { 0x08000000, 4, 16384, 7 }, { 0x08010000, 1, 65536, 7 }, { 0x08020000, 7, 131072, 7 } },
	  "Internal Flash  " },
	{ "§1.1 F072 flash", "@Internal Flash  /0x08000000/064*0002Kg", CF_OK, 1,
	  { { 0x08000000, 64, 2048, 7 } }, "Internal Flash  " },
	{ "brief F042 flash", "@Internal Flash  /0x08000000/032*001Kg", CF_OK, 1,
	  { { 0x08000000, 32, 1024, 7 } }, "Internal Flash  " },
	{ "§1.1 F042 [U] flash", "@Internal Flash  /0x08000000/032*0001Kg", CF_OK, 1,
	  { { 0x08000000, 32, 1024, 7 } }, "Internal Flash  " },
	{ "§1.1 F0 option bytes, space multiplier", "@Option Bytes  /0x1FFFF800/01*016 e", CF_OK, 1,
	  { { 0x1FFFF800, 1, 16, 5 } }, "Option Bytes  " },
	{ "§1.1 F4 OTP", "@OTP Memory /0x1FFF7800/01*512 g,01*016 g", CF_OK, 2,
	  { { 0x1FFF7800, 1, 512, 7 }, { 0x1FFF7A00, 1, 16, 7 } }, "OTP Memory " },
	{ "§1.1 F4 device feature", "@Device Feature/0xFFFF0000/01*004 g", CF_OK, 1,
	  { { 0xFFFF0000, 1, 4, 7 } }, "Device Feature" },
	{ "§1.7 no multiplier", "@Option Bytes /0x1FFFF800/01*32e", CF_OK, 1,
	  { { 0x1FFFF800, 1, 32, 5 } }, "Option Bytes " },
	{ "§1.7 no count (MATEK)", "@Internal Flash /0x08000000/016Kg", CF_OK, 1,
	  { { 0x08000000, 1, 16384, 7 } }, "Internal Flash " },
	{ "§1.7 space before multiplier", "@X/0x08000000/02*001 Kg", CF_OK, 1,
	  { { 0x08000000, 2, 1024, 7 } }, "X" },
	{ "§1.7 read-only own pages", "@Flash/0x08000000/19*002Ka,237*002Kg", CF_OK, 2,
	  { { 0x08000000, 19, 2048, 1 }, { 0x08009800, 237, 2048, 7 } }, "Flash" },
	{ "two zones", "@M/0x08000000/01*1Kg/0x20000000/02*1Kc", CF_OK, 2,
	  { { 0x08000000, 1, 1024, 7 }, { 0x20000000, 2, 1024, 3 } }, "M" },
	{ "fuzz: overlapping zones", "@/0x082/0012Kg,11*1Kg/0x002000/01*1g", CF_ERR_FRAME, 0,
	  { { 0 } }, NULL },
	{ "no @", "Internal Flash /0x08000000/032*001Kg", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "no zone", "@Internal Flash", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "no 0x", "@F/08000000/032*001Kg", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "bad type letter", "@F/0x08000000/032*001Kh", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "zero page size", "@F/0x08000000/032*000Kg", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "past 4 GiB", "@F/0xFFFF0000/02*064Kg", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "trailing junk", "@F/0x08000000/032*001Kg;", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "address too long", "@F/0x108000000/01*1Kg", CF_ERR_FRAME, 0, { { 0 } }, NULL },
	{ "17 segments", "@F/0x0/1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,"
			 "1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg,1*1Kg",
	  CF_ERR_NOSPACE, 0, { { 0 } }, NULL },
};

static void test_dfu_layout_strings(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(layout_cases) / sizeof(layout_cases[0]); i++) {
		const struct layout_case *c = &layout_cases[i];
		struct dfu_layout l;
		const int err = dfu_parse_layout(c->text, strlen(c->text), &l);

		if (err != c->want)
			fail_msg("%s: got %d want %d", c->name, err, c->want);
		if (err)
			continue;
		if (l.count != c->count)
			fail_msg("%s: %zu segments", c->name, l.count);
		assert_string_equal(l.name, c->alt_name);
		for (size_t s = 0; s < c->count; s++) {
			const struct dfu_segment *g = &l.seg[s], *w = &c->seg[s];

			if (g->start != w->start || g->count != w->count ||
			    g->page_size != w->page_size || g->type != w->type)
				fail_msg("%s: segment %zu: 0x%08x %u*%u type %u", c->name, s,
					 l.seg[s].start, l.seg[s].count, l.seg[s].page_size,
					 l.seg[s].type);
		}
	}
}

static void test_dfu_layout_page_lookup_f4_sector0_holds_app(void **state)
{
	static const char f4[] = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg";
	struct dfu_layout l;
	uint32_t start, size;
	uint8_t type;
	(void)state;

	assert_int_equal(dfu_parse_layout(f4, sizeof(f4) - 1, &l), CF_OK);

	/* §2.6: the application at 0x08002000 lives in sector 0 on F4. */
	assert_true(dfu_layout_page(&l, 0x08002000, &start, &size, &type));
	assert_int_equal(start, 0x08000000);
	assert_int_equal(size, 16384);
	assert_true(dfu_layout_page(&l, 0x08030001, &start, &size, &type));
	assert_int_equal(start, 0x08020000);
	assert_false(dfu_layout_page(&l, 0x08100000, &start, &size, &type));
	assert_false(dfu_layout_page(&l, 0x07FFFFFF, &start, &size, &type));
	assert_int_equal(dfu_layout_size(&l), 1024 * 1024);
}

static void test_dfu_layout_tolerates_trailing_nul(void **state)
{
	static const char text[] = "@Internal Flash  /0x08000000/032*001Kg\0\0";
	struct dfu_layout l;
	(void)state;

	assert_int_equal(dfu_parse_layout(text, sizeof(text) - 1, &l), CF_OK);
	assert_int_equal(dfu_layout_size(&l), 32 * 1024);
}

static void test_dfu_crc32_check_value(void **state)
{
	(void)state;
	/* §1.8: CRC-32/JAMCRC check value of "123456789". */
	assert_int_equal(dfu_crc32(0xFFFFFFFF, (const uint8_t *)"123456789", 9), 0x340BC6D9);
	/* Incremental equals one shot. */
	assert_int_equal(dfu_crc32(dfu_crc32(0xFFFFFFFF, (const uint8_t *)"1234", 4),
				   (const uint8_t *)"56789", 5),
			 0x340BC6D9);
}

/* `dfu-suffix -v 0483 -p df11 -a` (dfu-util 0.11) applied to "123456789". */
static const uint8_t suffixed[] = { '1',  '2',	'3',  '4',  '5',  '6',	'7',  '8',  '9',
				    0xff, 0xff, 0x11, 0xdf, 0x83, 0x04, 0x00, 0x01, 0x55,
				    0x46, 0x44, 0x10, 0x8b, 0x1e, 0x39, 0x39 };

static void test_dfu_suffix_from_dfu_suffix_tool(void **state)
{
	struct dfu_suffix s;
	uint8_t out[16];
	(void)state;

	assert_int_equal(dfu_parse_suffix(suffixed, sizeof(suffixed), &s), CF_OK);
	assert_int_equal(s.id_vendor, 0x0483);
	assert_int_equal(s.id_product, 0xdf11);
	assert_int_equal(s.bcd_device, 0xffff);
	assert_int_equal(s.bcd_dfu, 0x0100);
	assert_int_equal(s.length, 16);
	assert_int_equal(s.crc, 0x39391e8b);
	dfu_build_suffix(out, suffixed, 9, &s);
	assert_memory_equal(out, suffixed + 9, 16);
}

static void test_dfu_suffix_rejects(void **state)
{
	uint8_t buf[sizeof(suffixed)];
	struct dfu_suffix s;
	(void)state;

	memcpy(buf, suffixed, sizeof(buf));
	buf[0] = '0';
	assert_int_equal(dfu_parse_suffix(buf, sizeof(buf), &s), CF_ERR_CRC);
	memcpy(buf, suffixed, sizeof(buf));
	buf[9 + 9] = 'X';
	assert_int_equal(dfu_parse_suffix(buf, sizeof(buf), &s), CF_ERR_FRAME);
	memcpy(buf, suffixed, sizeof(buf));
	buf[9 + 11] = 15;
	assert_int_equal(dfu_parse_suffix(buf, sizeof(buf), &s), CF_ERR_FRAME);
	assert_int_equal(dfu_parse_suffix(suffixed + 10, 15, &s), CF_ERR_FRAME);
}

/* `dfuse-pack -b 0x08000000:e1.bin -b 0x08002000:e2.bin -D 0x0483:0xdf11` (dfu-util 0.11),
 * e1 = "ABCDEFGH", e2 = "0123": 329 bytes; the all-zero middle of the target name is omitted. */
static const uint8_t packed_head[] = { 'D', 'f', 'u', 'S', 'e', 0x01, 0x49, 0x01, 0x00, 0x00,
				       0x01, 'T', 'a', 'r', 'g', 'e', 't', 0x00, 0x01, 0x00,
				       0x00, 0x00, 'S', 'T', '.', '.', '.' };
static const uint8_t packed_tail[] = { 0x1c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x08, 0x08, 0x00, 0x00, 0x00, 'A',  'B',
				       'C',  'D',  'E',	 'F',  'G',  'H',  0x00, 0x20, 0x00,
				       0x08, 0x04, 0x00, 0x00, 0x00, '0',  '1',	 '2',  '3',
				       0x00, 0x00, 0x11, 0xdf, 0x83, 0x04, 0x1a, 0x01, 0x55,
				       0x46, 0x44, 0x10, 0x4c, 0x91, 0x06, 0xbb };

static void make_packed(uint8_t file[329])
{
	memset(file, 0, 329);
	memcpy(file, packed_head, sizeof(packed_head));
	memcpy(file + 329 - sizeof(packed_tail), packed_tail, sizeof(packed_tail));
}

static void test_dfuse_file_from_dfuse_pack(void **state)
{
	uint8_t file[329];
	struct dfuse_element el[4];
	size_t n;
	(void)state;
	make_packed(file);

	assert_int_equal(dfuse_parse_file(file, sizeof(file), el, 4, &n), CF_OK);

	assert_int_equal(n, 2);
	assert_int_equal(el[0].alt, 0);
	assert_int_equal(el[0].address, 0x08000000);
	assert_int_equal(el[0].size, 8);
	assert_memory_equal(el[0].data, "ABCDEFGH", 8);
	assert_int_equal(el[1].address, 0x08002000);
	assert_int_equal(el[1].size, 4);
	assert_memory_equal(el[1].data, "0123", 4);
	assert_int_equal(dfuse_parse_file(file, sizeof(file), el, 1, &n), CF_ERR_NOSPACE);
}

static void test_dfuse_file_rejects(void **state)
{
	uint8_t file[329];
	struct dfuse_element el[4];
	size_t n;
	(void)state;

	make_packed(file);
	file[300] ^= 1; /* element data: CRC no longer matches */
	assert_int_equal(dfuse_parse_file(file, sizeof(file), el, 4, &n), CF_ERR_CRC);
	/* The raw "123456789" file has a plain DFU 1.0 suffix: not a DfuSe file. */
	assert_int_equal(dfuse_parse_file(suffixed, sizeof(suffixed), el, 4, &n), CF_ERR_FRAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dfu_setup_packets_match_wire_trace),
		cmocka_unit_test(test_dfu_status_idle_ok_vector),
		cmocka_unit_test(test_dfu_status_poll_timeout_is_24bit_le),
		cmocka_unit_test(test_dfu_state_and_status_names),
		cmocka_unit_test(test_dfu_functional_descriptor_f4_rom),
		cmocka_unit_test(test_dfuse_commands_bytes),
		cmocka_unit_test(test_dfuse_parse_command_rejects_unknown),
		cmocka_unit_test(test_dfuse_block_address_uses_fixed_transfer_size),
		cmocka_unit_test(test_dfu_layout_strings),
		cmocka_unit_test(test_dfu_layout_page_lookup_f4_sector0_holds_app),
		cmocka_unit_test(test_dfu_layout_tolerates_trailing_nul),
		cmocka_unit_test(test_dfu_crc32_check_value),
		cmocka_unit_test(test_dfu_suffix_from_dfu_suffix_tool),
		cmocka_unit_test(test_dfu_suffix_rejects),
		cmocka_unit_test(test_dfuse_file_from_dfuse_pack),
		cmocka_unit_test(test_dfuse_file_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
