#include "textflag.h"

DATA stopBytes<>+0(SB)/1, $0x22
DATA stopBytes<>+1(SB)/1, $0x5c
DATA stopBytes<>+2(SB)/1, $0x1f
GLOBL stopBytes<>(SB), RODATA|NOPTR, $4

// func StringStop(s string) (i int, found bool)
//
// Looks at s 32 bytes at a time for the first '"', '\\' or byte below 0x20 and returns its
// index (found), or the index from which fewer than 32 bytes remain (not found). It reads only
// whole 32-byte blocks inside s.
TEXT ·StringStop(SB), NOSPLIT, $0-25
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), CX
	MOVQ SI, DI
	LEAQ -32(SI)(CX*1), DX // the last start of a whole block
	// Only VEX-encoded vector instructions: a legacy SSE one (MOVD to an X register) stalls
	// on the upper halves' state, at a cost many times this loop's.
	VPBROADCASTB stopBytes<>+0(SB), Y1 // '"'
	VPBROADCASTB stopBytes<>+1(SB), Y2 // '\\'
	VPBROADCASTB stopBytes<>+2(SB), Y3 // 0x1f
loop:
	CMPQ SI, DX
	JGT  rest
	VMOVDQU  (SI), Y0
	VPCMPEQB Y0, Y1, Y4
	VPCMPEQB Y0, Y2, Y5
	VPMINUB  Y0, Y3, Y6    // min(b, 0x1f) == b: b < 0x20
	VPCMPEQB Y0, Y6, Y6
	VPOR     Y4, Y5, Y4
	VPOR     Y4, Y6, Y4
	VPMOVMSKB Y4, AX
	TESTL    AX, AX
	JNZ      hit
	ADDQ     $32, SI
	JMP      loop
hit:
	BSFL AX, AX
	SUBQ DI, SI
	ADDQ SI, AX
	VZEROUPPER
	MOVQ AX, i+16(FP)
	MOVB $1, found+24(FP)
	RET
rest:
	SUBQ DI, SI
	VZEROUPPER
	MOVQ SI, i+16(FP)
	MOVB $0, found+24(FP)
	RET
