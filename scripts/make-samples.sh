#!/usr/bin/env bash
# Generates the bundled sample media into DIR (default: sluice-data/samples): ad-like images
# with text, an exact duplicate, a near-duplicate, a short video with speech, and one HTML page
# posing as an image. Nothing is downloaded.
# Usage: scripts/make-samples.sh [DIR]
set -euo pipefail
dir=${1:-sluice-data/samples}
mkdir -p "$dir"
if ! command -v convert >/dev/null; then
  echo "make-samples: ImageMagick is missing; run scripts/install-deps.sh" >&2
  exit 1
fi
font=DejaVu-Sans
ad() {  # ad FILE SIZE FROM TO GRADIENT_ANGLE GRAVITY HEADLINE_OFFSET SUBLINE_OFFSET HEADLINE SUBLINE
  convert -size "$2" -define gradient:angle="$5" "gradient:$3-$4" -font "$font" -fill white -gravity "$6" \
    -pointsize 48 -annotate "$7" "$9" -pointsize 24 -annotate "$8" "${10}" -quality 90 "$dir/$1"
}
[[ -f $dir/ad-summer-sale.jpg ]] || ad ad-summer-sale.jpg 640x360 '#ff7e5f' '#feb47b' 180 center +0-30 +0+30 'SUMMER SALE' '50% off everything'
[[ -f $dir/ad-new-arrivals.png ]] || ad ad-new-arrivals.png 600x600 '#2b5876' '#4e4376' 45 north +0+60 +0+130 'NEW ARRIVALS' 'autumn collection'
[[ -f $dir/ad-coffee.jpg ]] || ad ad-coffee.jpg 800x450 '#3e2723' '#8d6e63' 90 southwest +40+90 +40+40 'FRESH COFFEE' 'two for one, today only'
[[ -f $dir/banner-free-shipping.gif ]] || ad banner-free-shipping.gif 728x90 '#11998e' '#38ef7d' 90 west +30+0 +0+0 'FREE SHIPPING' ''
# The same creative under another name (stored once) and a re-encoded near-duplicate.
[[ -f $dir/ad-summer-sale-copy.jpg ]] || cp "$dir/ad-summer-sale.jpg" "$dir/ad-summer-sale-copy.jpg"
[[ -f $dir/ad-summer-sale-small.jpg ]] || convert "$dir/ad-summer-sale.jpg" -resize 50% -quality 70 "$dir/ad-summer-sale-small.jpg"
# A short video ad: three scenes joined by hard cuts, with a spoken line (espeak-ng).
if [[ ! -f $dir/video-ad-speech.mp4 ]]; then
  if command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null; then
    tmp=$(mktemp -d)
    espeak-ng -v en-us+f2 -s 140 -w "$tmp/speech.wav" "Summer sale. Fifty percent off everything, this weekend only."
    s=size=640x360:rate=25
    text="drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SUMMER SALE':fontsize=48:fontcolor=white:x=(w-tw)/2:y=h-80"
    ffmpeg -v error -y -i "$tmp/speech.wav" -filter_complex \
      "testsrc2=$s:d=2,$text[a];gradients=$s:d=2:speed=0.02[b];testsrc=$s:d=2[c];[a][b][c]concat=n=3:v=1:a=0[v];[0:a]apad=whole_dur=6[s]" \
      -map "[v]" -map "[s]" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac "$dir/video-ad-speech.mp4"
    rm -rf "$tmp"
  else
    echo "make-samples: espeak-ng or ffmpeg is missing; run scripts/install-deps.sh" >&2
    exit 1
  fi
fi
# Not media: an HTML page saved under an image name, as broken CDNs serve them.
[[ -f $dir/not-really-an-image.jpg ]] || printf '<!DOCTYPE html><html><body>Access denied</body></html>\n' > "$dir/not-really-an-image.jpg"
ls "$dir" | wc -l | xargs -I{} echo "make-samples: {} files in $dir" >&2
