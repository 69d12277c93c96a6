/* Wine 8 lacks bcryptprimitives.dll!ProcessPrng, which Rust's std imports
   for its random numbers (HashMap seeds). This stand-in, built with mingw
   and copied into the Wine prefix only, forwards it to RtlGenRandom. It is
   never part of anything framering ships. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG len); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
