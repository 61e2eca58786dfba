# pigz -p 4: parallel gzip (a pool of compress threads and a writer, synchronized by
# pigz's yarn layer on pthread mutexes and condvars), with more threads than cores.
# Output: the checksum of the .gz and whether gzip -d gives the input back.
APP_PKGS="pigz"
app_prepare() {
	lines=$([ $QUICK = 1 ] && echo 300000 || echo 2000000)
	[ -s "$DIR/in.$lines" ] || gen_text "$DIR/in.$lines" $lines
	IN=$DIR/in.$lines
}
app_run() {
	app pigz -p 4 -b 128 -6 -c "$IN" >"$DIR/out.gz" || return 1
	echo "compressed: $(sha <"$DIR/out.gz")"
	app pigz -p 4 -d -c "$DIR/out.gz" | cmp -s - "$IN" && echo "round trip: identical"
}
