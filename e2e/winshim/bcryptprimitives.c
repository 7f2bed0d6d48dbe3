/*
 * A stand-in for Windows' bcryptprimitives.dll, for the wine test only
 * (e2e/windows.sh): Go 1.22 and later take their random numbers from its
 * ProcessPrng, which Windows 10 and 11 have and Debian 12's wine 8.0 lacks,
 * so without it every Go program dies at start under that wine ("fatal
 * error: bcryptprimitives.dll not found"). It is never shipped: the zip
 * holds only the app. ProcessPrng here is BCryptGenRandom with the system
 * RNG, which wine has, as the real one is documented to be equivalent to.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
