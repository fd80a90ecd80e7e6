/* libFuzzer target: metadata.yaml from an untrusted image → yaml_to_json → metadata_parse.
 *   make fuzz-imaged            (builds build/fuzz/fuzz_imaged_metadata and runs it for 60 s)
 * Seeds: tests/fuzz/corpus/imaged_metadata/. */
#include <stddef.h>
#include <stdint.h>
#include "imaged/metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_metadata md;
	isola_error err;
	if (metadata_parse((const char *)data, size, &md, &err) == 0)
		metadata_free(&md);
	return 0;
}
